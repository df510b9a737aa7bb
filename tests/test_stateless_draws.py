"""The compiled draw kernel (hessianlearn/utilities/stateless_draws.c): TensorFlow's stateless
uniforms bit for bit, on the AVX2 and the scalar path, at counters whose low words carry; its
float32 Box-Muller equal to the TensorFlow-op form bit for bit and to the exact transform within
round-off; the in-graph draws use it on this (CPU-only, gcc) machine and fall back to TensorFlow
ops with the same numbers."""
import numpy as np
import pytest

from hessianlearn import tf
from hessianlearn.model.model import graph_rewrite_config
from hessianlearn.utilities import stateless_draws as draws


def _ops(graph, kind="PyFuncStateless"):
    return [op for op in graph.get_operations() if op.type == kind]


@pytest.fixture
def fresh_state(monkeypatch, tmp_path):
    """A process that has not yet looked for the kernel, building into an empty cache folder."""
    monkeypatch.setattr(draws, "_state", {})
    monkeypatch.setenv("HESSIANLEARN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_kernel_builds_and_loads_here():
    """CI's machines have a C compiler: the kernel must be on (a fallback here would hide a broken build)."""
    assert draws.native_status().startswith("on: "), draws.native_status()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("counter", [[0, 5], [2**32 - 7, 3], [2**64 - 40, 2**64 - 1], [123456789012, 9]])
def test_uniforms_equal_tensorflows_bit_for_bit(dtype, counter):
    """Every size class (empty, below one counter, whole SIMD blocks, tails) on both code paths,
    with low counter words that carry into the higher ones inside a block and across 2^64."""
    key_in = tf.placeholder(tf.uint64, [1])
    counter_in = tf.placeholder(tf.uint64, [2])
    sizes = [0, 1, 3, 4, 5, 63, 64, 65, 127, 128, 129, 1001, 4099]
    uniforms = {n: tf.raw_ops.StatelessRandomUniformV2(shape=[n], key=key_in, counter=counter_in, alg=1,
                                                    dtype=tf.as_dtype(dtype)) for n in sizes}
    key, counter = np.array([987654321987654], np.uint64), np.array(counter, np.uint64)
    with tf.Session() as sess:
        expected = sess.run(uniforms, {key_in: key, counter_in: counter})
    for n in sizes:
        for simd in (True, False):
            got = draws.philox_uniform(key, counter, n, dtype, simd=simd)
            assert got.dtype == dtype and got.shape == (n,)
            np.testing.assert_array_equal(got, expected[n], err_msg=f"n={n} simd={simd}")


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_in_graph_draw_runs_the_kernel_and_equals_tf_random_stateless_uniform(dtype):
    seed = tf.placeholder(tf.int64, [2])
    native = draws.stateless_uniform([3, 5, 1001], seed, dtype)
    assert len(_ops(tf.get_default_graph())) == 1  # the kernel is what runs
    reference = tf.random.stateless_uniform([3, 5, 1001], seed, dtype=dtype)
    with tf.Session() as sess:
        for s in ([1, 2], [-7, 2**40], [0, 0]):
            a, b = sess.run([native, reference], {seed: s})
            assert a.shape == (3, 5, 1001) and a.dtype == dtype.as_numpy_dtype
            np.testing.assert_array_equal(a, b)


def test_draws_held_by_concurrent_loop_iterations_are_not_overwritten():
    """The reused output arrays: a draw run again while earlier results are alive (parallel
    iterations of a while loop, collected in a TensorArray) gets a fresh array each time."""
    seed = tf.placeholder(tf.int64, [2])

    def body(i, collected):
        drawn = draws.stateless_uniform([3000], seed + tf.stack([tf.cast(i, tf.int64), 0]), tf.float32)
        return i + 1, collected.write(i, drawn)

    _, collected = tf.while_loop(lambda i, _: i < 12, body, [0, tf.TensorArray(tf.float32, 12)],
                                 parallel_iterations=8)
    together = collected.stack()
    one = draws.stateless_uniform([3000], seed, tf.float32)
    with tf.Session() as sess:
        stacked = sess.run(together, {seed: [5, 0]})
        for i in range(12):
            np.testing.assert_array_equal(stacked[i], sess.run(one, {seed: [5 + i, 0]}))


def test_switched_off_by_the_environment(fresh_state, monkeypatch):
    monkeypatch.setenv("HESSIANLEARN_NATIVE", "0")
    assert draws.native_status() == "off: HESSIANLEARN_NATIVE=0"
    draws.stateless_uniform([10], tf.constant([1, 2], tf.int64), tf.float32)
    assert not _ops(tf.get_default_graph())
    with pytest.raises(RuntimeError, match="HESSIANLEARN_NATIVE=0"):
        draws.philox_uniform(np.zeros(1, np.uint64), np.zeros(2, np.uint64), 4, np.float32)


def test_without_a_compiler_the_draw_is_tensorflows_with_the_same_numbers(fresh_state, monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    assert draws.native_status().startswith("off: no C compiler (/nonexistent/cc)")
    seed = tf.constant([3, 4], tf.int64)
    fallback = draws.stateless_uniform([100], seed, tf.float32)
    assert not _ops(tf.get_default_graph())
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(fallback), sess.run(tf.random.stateless_uniform([100], seed)))


def test_a_failing_compiler_says_why(fresh_state, monkeypatch, tmp_path):
    compiler = tmp_path / "broken_cc"
    compiler.write_text("#!/bin/sh\necho 'no such luck' >&2\nexit 1\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    assert "no such luck" in draws.native_status()
    assert not list(fresh_state.glob("*.so")) and not list(fresh_state.glob("*.tmp*"))


def test_a_kernel_that_differs_from_tensorflow_is_not_used(fresh_state, monkeypatch, tmp_path):
    """The build checks the kernel against TensorFlow before using it (a fast-math compiler would fail)."""
    wrong = tmp_path / "wrong.c"
    wrong.write_text("#include <stdint.h>\n#include <string.h>\n"
                     "int hl_uniform(const uint64_t *k, const uint64_t *c, uint64_t n, int b, int s, void *o)"
                     " { memset(o, 0, n * b); return 0; }\n"
                     "int hl_gaussian_f32_parts(uint64_t m, const uint64_t *k, const uint64_t *c, const uint64_t *p,"
                     " const uint64_t *n, const float *q, int s, int t, float **o) { return 0; }\n")
    compiler = tmp_path / "wrong_cc"  # compiles the wrong source whatever it is given
    compiler.write_text(f"#!/bin/sh\nwhile [ $# -gt 1 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n"
                        f"exec cc -shared -fPIC -o \"$out\" {wrong}\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    status = draws.native_status()
    assert status.startswith("off: the kernel built by") and "uniforms differ from TensorFlow's" in status
    assert not list(fresh_state.glob("*.so"))
    z = draws.stateless_gaussian([3, 4], tf.constant([1, 2], tf.int64), tf.float32)
    assert not _ops(tf.get_default_graph())
    with tf.Session() as sess:
        assert np.all(sess.run(z) != 0)


def test_a_damaged_cached_kernel_is_built_again(fresh_state, monkeypatch):
    assert draws.native_status().startswith("on: ")
    built, = fresh_state.glob("stateless_draws-*.so")
    built.unlink()  # a new file: this process still maps the old one
    built.write_bytes(b"not a library")
    monkeypatch.setattr(draws, "_state", {})
    assert draws.native_status() == f"on: {built}"
    assert draws.philox_uniform(np.zeros(1, np.uint64), np.zeros(2, np.uint64), 3, np.float32).shape == (3,)


def test_built_once_then_loaded_from_the_cache(fresh_state, monkeypatch):
    assert draws.native_status().startswith(f"on: {fresh_state}")
    built, = fresh_state.glob("stateless_draws-*.so")
    monkeypatch.setattr(draws, "_state", {})
    monkeypatch.setenv("CC", "/nonexistent/cc")  # no compiler needed the second time
    assert draws.native_status() == f"on: {built}"


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="'dtype' must be float32 or float64"):
        draws.philox_uniform(np.zeros(1, np.uint64), np.zeros(2, np.uint64), 4, np.int32)
    with pytest.raises(ValueError, match="'key' must have shape"):
        draws.philox_uniform(np.zeros(2, np.uint64), np.zeros(2, np.uint64), 4, np.float32)
    for out in (np.empty(8, np.float32)[::2], np.frombuffer(bytes(16), np.float32)):  # strided, read-only
        with pytest.raises(ValueError, match="'out' must be a writeable, aligned, contiguous"):
            draws.philox_uniform(np.zeros(1, np.uint64), np.zeros(2, np.uint64), 4, np.float32, out=out)


def _exact_box_muller(u, rows):
    """float64 Box-Muller of the float32 uniforms ``u`` ``(2, half, cols)``, first ``rows`` rows."""
    radius = np.sqrt(-2.0 * np.log1p(-u[0].astype(np.float64)))
    angle = 2.0 * np.pi * u[1].astype(np.float64)
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[:rows]


@pytest.mark.parametrize("shape", [[1, 1], [1, 5], [3, 7], [40, 25], [41, 3000], [2, 1030], [7, 600]])
def test_float32_gaussian_kernel_equals_its_tensorflow_ops_and_the_exact_transform(shape):
    """The kernel (AVX2 and scalar) and box_muller_float32 give the same bits, in a default session and
    under the fit's graph rewrites, for odd rows (the sines cut) and pair counts across the kernel's
    1024-pair chunks and off multiples of 4; all within 3e-7 relative of the float64 transform."""
    rows, cols = shape
    half = -(-rows // 2)
    seed = tf.placeholder(tf.int64, [2])
    native = draws.stateless_gaussian(shape, seed, tf.float32)
    assert [op.name.split("/")[-1] for op in _ops(tf.get_default_graph())] == ["philox_gaussian"]
    u = tf.random.stateless_uniform([2, half, cols], seed)
    cosines, sines = draws.box_muller_float32(u[0], u[1])
    ops_form = tf.concat([cosines, sines], axis=0)[:rows]
    key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
    for config in (None, graph_rewrite_config(tf.ConfigProto())):
        with tf.Session(config=config) as sess:
            for s in ([1, 2], [-5, 2**33]):
                a, b, uniforms, k, c = sess.run([native, ops_form, u, key, counter], {seed: s})
                assert a.shape == tuple(shape) and a.dtype == np.float32
                np.testing.assert_array_equal(a, b)
                for simd in (True, False):
                    flat = draws.philox_gaussian_float32(k, c, half * cols, rows * cols, simd=simd)
                    np.testing.assert_array_equal(flat.reshape(shape), a)
                exact = _exact_box_muller(uniforms, rows)
                assert np.all(np.abs(a - exact) <= 3e-7 * np.maximum(np.abs(exact), 1.0))


def test_float32_gaussian_has_the_moments_of_a_standard_normal_and_follows_the_seed():
    seed = tf.placeholder(tf.int64, [2])
    z = draws.stateless_gaussian([40, 25088], seed, tf.float32)
    with tf.Session() as sess:
        a, b, c = (sess.run(z, {seed: s}) for s in ([1, 2], [1, 2], [1, 3]))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    x = a.astype(np.float64).ravel()
    assert abs(x.mean()) < 5e-3 and abs(x.std() - 1.0) < 5e-3
    assert abs(np.mean(x ** 3)) < 0.02 and abs(np.mean(x ** 4) - 3.0) < 0.05
    assert 5.0 < np.abs(x).max() <= np.sqrt(-2 * np.log(2.0 ** -23)) + 1e-5  # tails to the float32 limit


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_gaussian_without_the_kernel_is_the_same_matrix(fresh_state, monkeypatch, dtype):
    seed = tf.constant([11, 12], tf.int64)
    native = draws.stateless_gaussian([9, 333], seed, dtype)
    assert _ops(tf.get_default_graph())
    monkeypatch.setattr(draws, "_state", {})
    monkeypatch.setenv("HESSIANLEARN_NATIVE", "0")
    fallback = draws.stateless_gaussian([9, 333], seed, dtype)
    with tf.Session() as sess:
        a, b = sess.run([native, fallback])
    assert len(_ops(tf.get_default_graph())) == 1 and a.dtype == dtype.as_numpy_dtype
    np.testing.assert_array_equal(a, b)


def test_gaussian_kernel_bad_sizes_are_named():
    with pytest.raises(ValueError, match="'n_out' must be between n_pairs and 2 n_pairs"):
        draws.philox_gaussian_float32(np.zeros(1, np.uint64), np.zeros(2, np.uint64), 10, 21)


def test_gaussian_parts_equal_one_draw_per_part_and_the_ops_form(fresh_state, monkeypatch):
    """One kernel call for all parts (pairs split over threads: 280 011 pairs, several threads here)
    gives each part's own seed + [0, i] matrix; without the kernel, the same bits."""
    shapes = [[40, 7000], [3, 5], [1, 1], [39, 7001]]
    seed = tf.placeholder(tf.int64, [2])
    together = draws.stateless_gaussian_parts(shapes, seed, tf.float32)
    assert len(_ops(tf.get_default_graph())) == 1
    one_by_one = [draws.stateless_gaussian(shape, seed + [0, i], tf.float32) for i, shape in enumerate(shapes)]
    monkeypatch.setattr(draws, "_state", {})
    monkeypatch.setenv("HESSIANLEARN_NATIVE", "0")
    ops_form = draws.stateless_gaussian_parts(shapes, seed, tf.float32)
    float64 = draws.stateless_gaussian_parts(shapes, seed, tf.float64)
    with tf.Session() as sess:
        for s in ([1, 2], [3, -4]):
            a, b, c, d = sess.run([together, one_by_one, ops_form, float64], {seed: s})
            for i, shape in enumerate(shapes):
                assert a[i].shape == tuple(shape) == d[i].shape and d[i].dtype == np.float64
                np.testing.assert_array_equal(a[i], b[i])
                np.testing.assert_array_equal(a[i], c[i])
