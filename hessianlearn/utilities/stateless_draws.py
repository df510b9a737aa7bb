"""Seeded in-graph uniform and Gaussian matrices, drawn by a compiled kernel on CPU-only hosts.

Both draws start from TensorFlow's stateless Philox stream of a ``(2,)`` seed (the
words of ``tf.random.stateless_uniform``):

* :func:`stateless_uniform` is ``tf.random.stateless_uniform(shape, seed, dtype)``
  (float32 or float64, ``[0, 1)``) bit for bit.
* :func:`stateless_gaussian` is a ``(rows, cols)`` standard normal matrix by Box-Muller,
  ``z = sqrt(-2 ln(1 - u_0)) [cos 2 pi u_1, sin 2 pi u_1]``, on the uniforms
  ``u = stateless_uniform([2, ceil(rows / 2), cols])``: the cosines fill the first
  ``ceil(rows / 2)`` rows, the sines the rest. In float32 the logarithm, cosine and
  sine are a fixed sequence of IEEE float32 operations (a folded mantissa and an
  atanh series; a quarter-turn reduction and Taylor polynomials to degree 9, see
  ``GAUSSIAN_COEFFICIENTS``), written once in C (``stateless_draws.c``) and once
  in TensorFlow ops (:func:`box_muller_float32`): on the CPU both give the same bits, so
  results do not depend on which ran (tested, and within 3e-7 of the exact transform).
  Not tested on a GPU; XLA auto-clustering, which fuses multiplies and adds, changes the
  ops form's last bits. In float64 it is TensorFlow's own log, cos and sin.

:func:`stateless_gaussian_parts` draws several such matrices (the parts of one test
matrix, a weight tensor each) in one kernel call.

TensorFlow's CPU Philox kernel computes one counter at a time (about 2.5 ns per word
on this project's 2-core machines), and Box-Muller in TensorFlow ops is six passes over
the matrix. The C kernel runs eight counters per AVX2 register and does the whole
transform in one pass, on up to 4 threads: a Tutorial 0 test matrix (40 x 50992) costs
about 3 ms of CPU (under 2 ms on two threads) instead of 6-8 ms (``bench/README.md``).
It is used (through a ``tf.numpy_function``) unless

* a GPU is visible (TensorFlow's GPU kernels are faster than a host draw plus a copy),
* ``HESSIANLEARN_NATIVE=0`` is set in the environment,
* or the kernel cannot be built: no C compiler (``$CC``, else ``cc``), or it failed.

It is compiled on first use (about 0.5 s, no Python or TensorFlow headers) into
``$HESSIANLEARN_CACHE`` (default ``~/.cache/hessianlearn``), under a name keyed by its
source, flags and platform, checked against TensorFlow's draws before it is used (a
compiler that approximates fails the check), and loaded from there afterwards. The
choice is made once per process, at the first draw. :func:`native_status` says which
case holds.
"""
import ctypes
import hashlib
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading

import numpy as np

from .._tf import tf

__all__ = ["stateless_uniform", "stateless_gaussian", "stateless_gaussian_parts", "box_muller_float32",
           "philox_uniform", "philox_gaussian_float32", "native_library", "native_status", "GAUSSIAN_COEFFICIENTS"]


def _coefficients():
    half_pi = math.pi / 2
    sine = [(-1) ** ((j - 1) // 2) * half_pi ** j / math.factorial(j) for j in (9, 7, 5, 3, 1)]
    cosine = [(-1) ** (j // 2) * half_pi ** j / math.factorial(j) for j in (8, 6, 4, 2)]
    return np.array([math.sqrt(2.0), -2.0 * math.log(2.0), 1 / 9, 1 / 7, 1 / 5, 1 / 3, *sine, *cosine],
                     dtype=np.float32)


#: float32 constants of the float32 Box-Muller, in the order ``stateless_draws.c`` reads them:
#: sqrt(2) (where the mantissa folds), -2 ln 2, the atanh series' 1/9, 1/7, 1/5, 1/3, then
#: sin(pi f / 2) / f's Taylor coefficients of f^8 .. f^0 and cos(pi f / 2)'s of f^8 .. f^2.
GAUSSIAN_COEFFICIENTS = _coefficients()
GAUSSIAN_COEFFICIENTS.setflags(write=False)  # the C kernel and the op form must read the same

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stateless_draws.c")
# -ffp-contract=off, -fno-fast-math: no fused multiply-adds or approximations, so every
# operation rounds as TensorFlow's does; -fno-math-errno: sqrtf is an instruction (it is
# never given a negative number); -fno-strict-aliasing: the in-place float64 conversion
_FLAGS = ("-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-fno-strict-aliasing",
          "-shared", "-fPIC", "-pthread")
_lock = threading.Lock()
_state = {}  # "library": CDLL or None, "status": str; filled by the first native_library()


def _cache_folder():
    return os.environ.get("HESSIANLEARN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hessianlearn")


def _declare(library):
    pointer, u64, c_int = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int
    library.hl_uniform.argtypes = [pointer, pointer, u64, c_int, c_int, pointer]
    library.hl_gaussian_f32_parts.argtypes = [u64, pointer, pointer, pointer, pointer, pointer, c_int, c_int,
                                              pointer]
    library.hl_uniform.restype = library.hl_gaussian_f32_parts.restype = c_int
    return library


def _uniform_into(library, key, counter, out, simd=True):
    """Fill ``out`` (contiguous float32 or float64) from uint64 ``key`` (1,) and ``counter`` (2,)."""
    library.hl_uniform(key.ctypes.data, counter.ctypes.data, out.size, out.dtype.itemsize, int(bool(simd)),
                       out.ctypes.data)


def _gaussians_into(library, keys, counters, pairs, outs, simd=True, threads=1):
    """Fill the float32 arrays ``outs`` with the normals of ``pairs[i]`` uniform pairs from
    ``keys[i]``, ``counters[2i: 2i + 2]`` (uint64 arrays), the pairs split over ``threads``."""
    sizes = np.array([out.size for out in outs], np.uint64)
    pointers = (ctypes.c_void_p * len(outs))(*[out.ctypes.data for out in outs])
    library.hl_gaussian_f32_parts(len(outs), keys.ctypes.data, counters.ctypes.data, pairs.ctypes.data,
                                  sizes.ctypes.data, GAUSSIAN_COEFFICIENTS.ctypes.data, int(bool(simd)), threads,
                                  pointers)


def _check_against_tensorflow(library):
    """None if the kernel gives TensorFlow's uniforms and the op form's normals bit for bit
    (a seed's first 2 x 3 x 1111 draws, AVX2 and scalar), else what differs. A compiler
    that approximates (fast math) fails here, and the draws stay TensorFlow's."""
    rows, cols = 5, 1111
    graph = tf.Graph()
    with graph.as_default():
        seed = tf.constant([20261207, 15], tf.int64)
        key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
        u = tf.random.stateless_uniform([2, 3, cols], seed)
        cosines, sines = box_muller_float32(u[0], u[1])
        z = tf.concat([cosines, sines], axis=0)[:rows]
        u64 = tf.random.stateless_uniform([7, 3], seed, dtype=tf.float64)
    with tf.Session(graph=graph) as sess:
        key, counter, u, z, u64 = sess.run([key, counter, u, z, u64])
    for simd in (True, False):
        got, got64 = np.empty(u.size, np.float32), np.empty(u64.size, np.float64)
        _uniform_into(library, key, counter, got, simd)
        _uniform_into(library, key, counter, got64, simd)
        normals = np.empty(z.size, np.float32)
        _gaussians_into(library, key, counter, np.full(1, 3 * cols, np.uint64), [normals], simd)
        parts = [np.empty(z.size, np.float32) for _ in range(2)]  # one matrix twice, on 2 threads
        _gaussians_into(library, np.repeat(key, 2), np.tile(counter, 2), np.full(2, 3 * cols, np.uint64), parts,
                        simd, threads=2)
        for name, a, b in (("uniforms", got, u), ("float64 uniforms", got64, u64), ("normals", normals, z),
                           ("normals drawn in parts", np.concatenate(parts), np.concatenate([z, z]))):
            if not np.array_equal(a, b.ravel()):
                return f"its {name} differ from TensorFlow's ({'AVX2' if simd else 'scalar'} path)"
    return None


def _build(compiler, path):
    """Compile the C source to ``path`` and check it (through a temporary file: concurrent builds are safe)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".tmp.so", dir=os.path.dirname(path))
    os.close(handle)
    try:
        try:
            result = subprocess.run([*compiler, *_FLAGS, "-o", temporary, _SOURCE], capture_output=True,
                                    text=True, timeout=300)
        except subprocess.TimeoutExpired:
            raise OSError(f"{' '.join(compiler)} took over 300 s") from None
        if result.returncode != 0:
            raise OSError(f"{' '.join(compiler)} failed: {result.stderr.strip()[-500:]}")
        try:
            difference = _check_against_tensorflow(_declare(ctypes.CDLL(temporary)))
        except Exception as error:  # noqa: BLE001 - any failure of the check means: not used
            difference = f"its check failed ({type(error).__name__}: {error})"
        if difference:
            raise OSError(f"the kernel built by {' '.join(compiler)} is not used: {difference}")
        os.chmod(temporary, 0o755)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _load():
    if os.environ.get("HESSIANLEARN_NATIVE", "1") == "0":
        return None, "off: HESSIANLEARN_NATIVE=0"
    compiler = shlex.split(os.environ.get("CC") or "cc") or ["cc"]
    with open(_SOURCE, "rb") as source:
        digest = hashlib.sha256(source.read() + " ".join(_FLAGS).encode()).hexdigest()[:16]
    path = os.path.join(_cache_folder(), f"stateless_draws-{digest}-{sys.platform}-{platform.machine()}.so")
    try:
        if os.path.exists(path):
            try:
                return _declare(ctypes.CDLL(path)), f"on: {path}"
            except OSError:  # a damaged or foreign file under our name: build it again
                os.remove(path)
        if shutil.which(compiler[0]) is None:
            return None, f"off: no C compiler ({' '.join(compiler)}) to build {_SOURCE}"
        _build(compiler, path)
        return _declare(ctypes.CDLL(path)), f"on: {path}"
    except OSError as error:
        return None, f"off: {error}"


def native_library():
    """The loaded kernel (``ctypes.CDLL``), built on first use, or None (:func:`native_status` says why)."""
    with _lock:
        if "library" not in _state:
            _state["library"], _state["status"] = _load()
        return _state["library"]


def native_status():
    """``'on: <library path>'`` or ``'off: <reason>'``."""
    native_library()
    return _state["status"]


def _key_counter(key, counter):
    key = np.ascontiguousarray(key, dtype=np.uint64)
    counter = np.ascontiguousarray(counter, dtype=np.uint64)
    if key.shape != (1,) or counter.shape != (2,):
        raise ValueError(f"'key' must have shape (1,) and 'counter' (2,), got {key.shape} and {counter.shape}.")
    return key, counter


def _output(out, n, dtype):
    if out is None:
        return np.empty(n, dtype=dtype)
    if (out.dtype != dtype or out.shape != (n,) or not out.flags.c_contiguous or not out.flags.writeable
            or not out.flags.aligned):
        raise ValueError(f"'out' must be a writeable, aligned, contiguous ({n},) array of {dtype}, got "
                         f"{out.shape} {out.dtype}.")
    return out


def _required_library():
    library = native_library()
    if library is None:
        raise RuntimeError(f"the compiled kernel is not available ({native_status()}).")
    return library


def philox_uniform(key, counter, n, dtype, simd=True, out=None):
    """``n`` uniforms in ``[0, 1)`` of ``dtype`` (float32 or float64) from the compiled kernel.

    ``key`` ``(1,)`` and ``counter`` ``(2,)`` are uint64, as TensorFlow's
    ``StatelessRandomGetKeyCounter`` gives them; the result equals
    ``StatelessRandomUniformV2`` with them (alg 1) bit for bit. ``simd=False``
    keeps to the scalar code (what CPUs without AVX2 run). ``out``: a contiguous
    ``(n,)`` array of ``dtype`` to write into (returned). Needs the kernel.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"'dtype' must be float32 or float64, got {dtype}.")
    library = _required_library()
    key, counter = _key_counter(key, counter)
    out = _output(out, int(n), dtype)
    _uniform_into(library, key, counter, out, simd)
    return out


def philox_gaussian_float32(key, counter, n_pairs, n_out, simd=True, out=None):
    """The float32 Box-Muller normals of the stream's first ``2 n_pairs`` uniforms, ``(n_out,)``.

    Entry ``i < n_pairs`` is ``r_i cos(2 pi u_{n_pairs + i})`` and entry ``n_pairs + i``
    (kept while below ``n_out``, ``n_pairs <= n_out <= 2 n_pairs``) is
    ``r_i sin(2 pi u_{n_pairs + i})``, ``r_i = sqrt(-2 ln(1 - u_i))``, with the
    float32 operations of :func:`box_muller_float32`. ``key``, ``counter``, ``simd``
    and ``out`` as in :func:`philox_uniform`. Needs the kernel.
    """
    n_pairs, n_out = int(n_pairs), int(n_out)
    if not n_pairs <= n_out <= 2 * n_pairs:
        raise ValueError(f"'n_out' must be between n_pairs and 2 n_pairs ({n_pairs}, {2 * n_pairs}), got {n_out}.")
    library = _required_library()
    key, counter = _key_counter(key, counter)
    out = _output(out, n_out, np.dtype(np.float32))
    _gaussians_into(library, key, counter, np.full(1, n_pairs, np.uint64), [out], simd)
    return out


def box_muller_float32(u0, u1):
    """``(r cos 2 pi u1, r sin 2 pi u1)``, ``r = sqrt(-2 ln(1 - u0))``, for float32 tensors in ``[0, 1)``.

    The TensorFlow-op form of the C kernel's transform, operation for operation
    (each an IEEE float32 operation, so the two agree bit for bit):
    ``1 - u0 = m 2^e`` with ``m`` folded into ``[sqrt(2)/2, sqrt(2))``,
    ``ln m = 2 s (1 + s^2/3 + ... + s^8/9)``, ``s = (m - 1)/(m + 1)``; and
    ``2 pi u1 = (pi/2)(q + f)`` with the integer ``q = floor(4 u1 + 1/2)`` and
    ``f`` in ``[-1/2, 1/2]`` (both exact), ``sin``/``cos`` of ``pi f / 2`` by Taylor
    polynomials, then the quadrant ``q mod 4`` swaps and signs them.
    """
    k = [tf.constant(c, tf.float32) for c in GAUSSIAN_COEFFICIENTS]
    bitwise = tf.bitwise
    v = 1.0 - u0
    bits = tf.bitcast(v, tf.int32)
    exponent = bitwise.right_shift(bits, 23) - 127
    m = tf.bitcast(bitwise.bitwise_or(bitwise.bitwise_and(bits, 0x7FFFFF), 0x3F800000), tf.float32)
    fold = tf.cast(m > k[0], tf.int32)
    m = m * tf.bitcast(0x3F800000 - bitwise.left_shift(fold, 23), tf.float32)
    e = tf.cast(exponent + fold, tf.float32)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = (((k[2] * s2 + k[3]) * s2 + k[4]) * s2 + k[5]) * s2 + 1.0
    r = tf.sqrt(e * k[1] + (s * p) * -4.0)
    quarter = tf.cast(4.0 * u1 + 0.5, tf.int32)  # truncation: the floor of a number >= 0
    f = 4.0 * u1 - tf.cast(quarter, tf.float32)
    f2 = f * f
    sine = f * ((((k[6] * f2 + k[7]) * f2 + k[8]) * f2 + k[9]) * f2 + k[10])
    cosine = (((k[11] * f2 + k[12]) * f2 + k[13]) * f2 + k[14]) * f2 + 1.0
    quadrant = bitwise.bitwise_and(quarter, 3)
    swap = tf.equal(bitwise.bitwise_and(quadrant, 1), 1)
    c, d = tf.where(swap, sine, cosine), tf.where(swap, cosine, sine)
    cos_sign = tf.equal(bitwise.bitwise_and(bitwise.right_shift(quadrant + 1, 1), 1), 1)  # quadrants 1, 2
    sin_sign = quadrant >= 2
    return r * tf.where(cos_sign, -c, c), r * tf.where(sin_sign, -d, d)


def _idle_reference_count():
    """What ``sys.getrefcount`` says, in :meth:`_BufferPool.take`'s loop, of an array that only
    the pool holds: 3 up to Python 3.13 (the list, the loop's name, the call's argument), 2
    where the argument is borrowed (3.14); measured the same way rather than assumed."""
    for array in [np.empty(0)]:
        return sys.getrefcount(array)


class _BufferPool:
    """Reused output arrays of one draw, 64-byte aligned so that TensorFlow takes them without a copy.

    A fresh 8 MB array per iteration costs its page faults again (about 0.7 ms
    at the Tutorial 0 test matrix). TensorFlow keeps a reference to an array it
    took until the last tensor on it is gone (a fetched result included), so an
    array is handed out again only when the pool holds the one reference left;
    with all of them in use it makes a new one (kept while fewer than ``limit``).
    """

    def __init__(self, size, dtype, limit=4):
        self.size, self.dtype, self.limit, self.arrays = size, np.dtype(dtype), limit, []
        self.idle = _idle_reference_count()

    def _new(self):
        nbytes = self.size * self.dtype.itemsize
        raw = np.empty(nbytes + 64, np.uint8)
        start = -raw.ctypes.data % 64
        return raw[start: start + nbytes].view(self.dtype)

    def take(self):
        for array in self.arrays:  # the loop's name holds it from the check on: threads are safe
            if sys.getrefcount(array) <= self.idle:
                return array
        array = self._new()
        if len(self.arrays) < self.limit:
            self.arrays.append(array)
        return array


def _native_for(dtype):
    """The kernel if it draws ``dtype`` here (float32/64, no GPU visible), else None."""
    if tf.as_dtype(dtype) not in (tf.float32, tf.float64):
        return None
    library = native_library()
    return None if library is None or tf.config.list_physical_devices("GPU") else library


def stateless_uniform(shape, seed, dtype):
    """``tf.random.stateless_uniform(shape, seed, dtype=dtype)`` bit for bit (``[0, 1)``, float32 or float64).

    ``shape`` is static (a list of ints), ``seed`` a ``(2,)`` integer tensor.
    Drawn by the compiled kernel where it is used (module docstring), else by
    TensorFlow's op.
    """
    with tf.name_scope("stateless_uniform"):  # as stateless_gaussian's scope
        return _uniform([int(d) for d in shape], seed, tf.as_dtype(dtype))


def _uniform(shape, seed, dtype):
    library = _native_for(dtype)
    if library is None:
        return tf.random.stateless_uniform(shape, seed, dtype=dtype)
    size = int(np.prod(shape))
    key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
    pool = _BufferPool(size, dtype.as_numpy_dtype)

    def draw(key, counter):
        out = pool.take()
        _uniform_into(library, key, counter, out)
        return out

    flat = tf.numpy_function(draw, [key, counter], dtype, stateful=False, name="philox_uniform")
    flat.set_shape([size])
    return tf.reshape(flat, shape)


def stateless_gaussian(shape, seed, dtype):
    """A ``(rows, cols)`` standard normal matrix from the ``(2,)`` int64 ``seed`` (Box-Muller).

    The rows ``[0, ceil(rows/2))`` are ``r cos 2 pi u_1``, the rest ``r sin 2 pi u_1``,
    ``r = sqrt(-2 ln(1 - u_0))``, on ``u = stateless_uniform([2, ceil(rows/2), cols], seed)``:
    two exact normals per pair of uniforms. The same seed gives the same matrix,
    from the compiled kernel or from TensorFlow ops alike (module docstring); the
    float32 tails end at ``sqrt(-2 ln 2^-23) = 5.6``.
    """
    return stateless_gaussian_parts([shape], seed, dtype)[0]  # part 0's seed is seed + [0, 0]


def stateless_gaussian_parts(shapes, seed, dtype):
    """``[stateless_gaussian(shape_i, seed + [0, i], dtype) for i, shape_i in enumerate(shapes)]``, the same bits.

    With the compiled kernel (float32), one ``tf.numpy_function`` draws every part,
    the pairs of all parts split evenly over up to 4 threads (one below 2^17 pairs):
    the parts of one test matrix (a weight tensor each) are drawn at once.
    """
    dtype = tf.as_dtype(dtype)
    # its own name scope: the graph's other automatic names (and so Grappler's rewrites,
    # which follow them) are the same whichever form is built
    with tf.name_scope("stateless_gaussian"):
        library = _native_for(dtype) if dtype == tf.float32 and len(shapes) else None
        if library is None:
            return [_gaussian_ops(int(shape[0]), int(shape[1]), seed + [0, i], dtype)
                    for i, shape in enumerate(shapes)]
        shapes = [(int(shape[0]), int(shape[1])) for shape in shapes]
        pairs = np.array([-(-rows // 2) * cols for rows, cols in shapes], np.uint64)
        sizes = [rows * cols for rows, cols in shapes]
        threads = 1 if pairs.sum() < 2 ** 17 else max(1, min(4, os.cpu_count() or 1))
        keys_counters = [tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed + [0, i]) for i in range(len(shapes))]
        keys = tf.concat([key for key, _ in keys_counters], axis=0)
        counters = tf.concat([counter for _, counter in keys_counters], axis=0)
        pools = [_BufferPool(size, np.float32) for size in sizes]

        def draw(keys, counters):
            arrays = [pool.take() for pool in pools]
            _gaussians_into(library, keys, counters, pairs, arrays, threads=threads)
            return arrays

        drawn = tf.numpy_function(draw, [keys, counters], [tf.float32] * len(shapes), stateful=False,
                                  name="philox_gaussian")
        result = []
        for flat, (rows, cols), size in zip(drawn, shapes, sizes):
            flat.set_shape([size])
            result.append(tf.reshape(flat, [rows, cols]))
        return result


def _gaussian_ops(rows, cols, seed, dtype):
    """stateless_gaussian in TensorFlow ops (over :func:`stateless_uniform`)."""
    half = -(-rows // 2)
    u = stateless_uniform([2, half, cols], seed, dtype)
    if dtype == tf.float32:
        cosines, sines = box_muller_float32(u[0], u[1])
    else:
        radius = tf.sqrt(-2.0 * tf.math.log(1.0 - u[0]))
        angle = (2.0 * np.pi) * u[1]
        cosines, sines = radius * tf.cos(angle), radius * tf.sin(angle)
    z = tf.concat([cosines, sines], axis=0)
    return z if 2 * half == rows else z[:rows]
