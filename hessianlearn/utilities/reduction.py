"""The one function through which data-dependent quantities are evaluated.

Losses, gradients and curvature-operator actions are all computed as
``evaluate(sess, fetches, feed_dict, comm)``. Without a communicator this is
``sess.run``. With one (data-parallel training over MPI) every rank holds a
shard of the same global batch, evaluates the fetches on its shard, and the
results are combined by one weighted ``Allreduce``: for a quantity that is a
mean over samples,

.. math::

    q(\\text{batch}) = \\frac{1}{N} \\sum_{i=1}^{N} q_i
                     = \\sum_{r} \\frac{n_r}{N} \\, q(\\text{shard}_r),
    \\qquad N = \\sum_r n_r,

so the loss, the gradient ``g``, ``Hdw``, ``HdW``, ``dw^T H dw`` and the
accuracy equal the single-process values on the whole global batch to
round-off, on every rank. No other module needs to know about processes.

Nonlinear functions of such means (``norm_g = ||g||``) are not means of
per-shard values; they are registered with :func:`register_derived` and
recomputed from the reduced sources.
"""
import numbers
import weakref

import numpy as np

from .._tf import tf
from .mpi import _describe, _raise_gathered, check_communicator
from .session_callables import run

__all__ = ["evaluate", "register_derived", "count_samples", "global_sample_count", "partition_feed"]

#: tensor -> (source tensors, function of their numpy values)
_DERIVED = weakref.WeakKeyDictionary()


def register_derived(tensor, sources, function):
    """Declare ``tensor == function(*sources)`` for a nonlinear function of sample means.

    Under MPI, :func:`evaluate` fetches ``sources`` instead of ``tensor``,
    reduces them, and returns ``function(*reduced_sources)``. Without a
    communicator ``tensor`` is simply run.

    Examples
    --------
    >>> register_derived(problem.norm_g, [problem.gradient], np.linalg.norm)  # doctest: +SKIP
    """
    if not isinstance(tensor, tf.Tensor):
        raise TypeError(f"tensor must be a tf.Tensor, got {type(tensor).__name__}.")
    sources = list(sources)
    if not sources or not all(isinstance(s, tf.Tensor) for s in sources):
        raise TypeError("sources must be a non-empty list of tf.Tensor.")
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}.")
    _DERIVED[tensor] = (sources, function)


def _is_batch_key(key):
    """A placeholder whose first dimension is the (unknown) batch dimension."""
    if not isinstance(key, tf.Tensor):
        return False
    shape = key.shape
    return shape.rank is not None and shape.rank >= 1 and shape.as_list()[0] is None


def count_samples(feed_dict):
    """Number of samples in the data of ``feed_dict``, or ``None`` if it holds no data.

    Data entries are the fed tensors whose static first dimension is unknown
    (``None``, the batch axis of Keras inputs and target placeholders); their
    values must agree on the first dimension. Direction placeholders such as
    ``dw`` ``(dimension,)`` and ``dW`` ``(dimension, k)`` have a known first
    dimension and are not counted.

    Raises
    ------
    ValueError
        If the data entries have different numbers of samples.
    """
    counts = {}
    for key, value in feed_dict.items():
        if _is_batch_key(key):
            shape = np.shape(value)
            if len(shape) == 0:
                raise ValueError(
                    f"feed_dict[{key.name}] is a scalar but the placeholder has a batch axis; "
                    "feed an array whose first dimension indexes the samples."
                )
            counts[key.name] = int(shape[0])
    if not counts:
        return None
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{name}: {n}" for name, n in counts.items())
        raise ValueError(
            f"The data arrays in feed_dict have different numbers of samples ({listing}); "
            "every data placeholder must be fed the same samples."
        )
    return next(iter(counts.values()))


def _check_fraction(local_fraction):
    if local_fraction is None:
        return None
    if isinstance(local_fraction, bool) or not isinstance(local_fraction, numbers.Real) \
            or not 0.0 <= float(local_fraction) <= 1.0:
        raise ValueError(
            f"local_fraction must be a number in [0, 1] (this rank's share of the global "
            f"batch), got {local_fraction!r}."
        )
    return float(local_fraction)


def _weights(gathered, rank):
    """This rank's weight from the gathered ``(error, count, fraction)`` triples."""
    counts = [entry[1] for entry in gathered]
    fractions = [entry[2] for entry in gathered]
    size = len(gathered)
    if any(f is not None for f in fractions):
        if any(f is None for f in fractions):
            raise ValueError("local_fraction was given on some MPI ranks but not on others; "
                             "give it on every rank or on none.")
        if abs(sum(fractions) - 1.0) > 1e-12 or min(fractions) <= 0.0:
            raise ValueError(
                f"local_fraction over the {size} MPI ranks is {fractions}; the fractions must "
                "be positive and sum to 1 (each rank's shard size over the global batch size)."
            )
        return fractions[rank]
    if all(n is None for n in counts):
        return None  # no data in the feed: the value is the same on every rank
    if any(n is None for n in counts):
        raise ValueError(
            f"Some MPI ranks fed data and others did not (samples per rank: {counts}); "
            "every rank must evaluate the same fetches on its shard of the same batch."
        )
    if sum(counts) == 0:
        raise ValueError(
            f"The global batch is empty on all {size} MPI ranks; feed at least one sample."
        )
    return counts[rank] / sum(counts)


def _zeros_like(fetch):
    """The zero contribution of a rank without samples (static shape needed)."""
    if isinstance(fetch, tf.Operation):
        return None
    if not isinstance(fetch, tf.Tensor) or not fetch.shape.is_fully_defined():
        raise ValueError(
            f"This rank's shard of the batch is empty and the fetch {getattr(fetch, 'name', fetch)!r} "
            "has no fully defined static shape, so its zero contribution is unknown; give every "
            "rank at least one sample (batch sizes >= number of ranks) or fetch sample means "
            "with static shapes (loss, gradient, Hdw, HdW)."
        )
    return np.zeros(fetch.shape.as_list(), dtype=fetch.dtype.as_numpy_dtype)[()]


def evaluate(sess, fetches, feed_dict, comm=None, *, local_fraction=None):
    """Run ``fetches`` on the data in ``feed_dict`` and reduce over processes.

    Parameters
    ----------
    sess : tf.compat.v1.Session
    fetches : tensor, operation, or list/tuple/dict of them
        Anything ``sess.run`` accepts. Under MPI, floating results must be
        means over the samples of the batch (loss, gradient, Hessian actions,
        accuracy) or data-independent; tensors registered with
        :func:`register_derived` are recomputed from reduced sources; other
        results (operations, integers) are returned as computed locally.
    feed_dict : dict
        Placeholders to values; not modified. Under MPI, this rank's shard of
        the global batch.
    comm : communicator or None
        ``None`` evaluates locally (plain ``sess.run``). With an mpi4py
        communicator, this is a collective call: every rank must call it with
        the same fetches.
    local_fraction : float, optional
        This rank's share ``n_r / N`` of the global batch. By default it is
        counted from the data placeholders in ``feed_dict`` (see
        :func:`count_samples`); give it when the data keys are not
        placeholders with a batch axis.

    Returns
    -------
    The structure ``sess.run(fetches, ...)`` returns, with every floating
    result replaced by ``sum_r (n_r / N) * result_r`` (identical on all ranks).

    Raises
    ------
    ValueError
        On every rank, if the global batch is empty, ranks disagree on whether
        they feed data, or the data arrays of one feed have different lengths.
        Any error on one rank (including a failing ``sess.run``) is raised on
        every rank, so no rank waits in the reduction.

    Notes
    -----
    A rank whose shard is empty (``n_r = 0``, e.g. a part of a partitioned
    batch that lies on other ranks) contributes zeros without running the
    graph; its fetches then need fully defined static shapes.
    """
    if comm is None:
        return run(sess, fetches, feed_dict)
    check_communicator(comm)
    flat = tf.nest.flatten(fetches)
    run_list, plan = [], []
    for fetch in flat:
        derived = _DERIVED.get(fetch) if isinstance(fetch, tf.Tensor) else None
        if derived is None:
            plan.append((len(run_list), None))
            run_list.append(fetch)
        else:
            sources, function = derived
            plan.append((list(range(len(run_list), len(run_list) + len(sources))), function))
            run_list.extend(sources)

    error, count, fraction, values = None, None, None, None
    try:
        fraction = _check_fraction(local_fraction)
        count = count_samples(feed_dict)
        if count == 0 or fraction == 0.0:
            values = [_zeros_like(fetch) for fetch in run_list]  # no samples: no contribution
        else:
            values = run(sess, run_list, feed_dict)
    except Exception as err:  # noqa: BLE001 - forwarded to every rank, then re-raised
        error = err
    gathered = comm.allgather((_describe(error), count, fraction))
    _raise_gathered([entry[0] for entry in gathered], error)
    weight = _weights(gathered, comm.Get_rank())

    if weight is not None:
        values = _weighted_allreduce(comm, values, weight)
    results = []
    for index, function in plan:
        if function is None:
            results.append(values[index])
        else:
            results.append(function(*[values[i] for i in index]))
    return tf.nest.pack_sequence_as(fetches, results)


def _is_floating(value):
    return isinstance(value, (np.ndarray, np.generic, float)) and np.asarray(value).dtype.kind == "f"


def _weighted_allreduce(comm, values, weight):
    """``sum_r weight_r * value_r`` for the floating values (one Allreduce for all of them)."""
    floating = [i for i, v in enumerate(values) if _is_floating(v)]
    if not floating:
        return values
    parts = [np.asarray(values[i], dtype=np.float64).reshape(-1) for i in floating]
    send = np.concatenate(parts) * weight
    receive = np.empty_like(send)
    comm.Allreduce(send, receive)
    out = list(values)
    start = 0
    for i, part in zip(floating, parts):
        original = values[i]
        piece = receive[start:start + part.size]
        start += part.size
        if isinstance(original, np.ndarray):
            out[i] = piece.reshape(original.shape).astype(original.dtype, copy=False)
        elif isinstance(original, np.generic):
            out[i] = original.dtype.type(piece[0])
        else:
            out[i] = float(piece[0])
    return out


# --------------------------------------------------------------------------- partitions
def _batch_count(feed_dict):
    """Samples in a data batch: :func:`count_samples`, else the common first dimension."""
    count = count_samples(feed_dict)
    if count is not None:
        return count
    sizes = {np.shape(value)[0] for value in feed_dict.values() if np.ndim(value) >= 1}
    if len(sizes) != 1:
        raise ValueError(
            "The feed dict must hold data arrays sharing their first (sample) dimension, got "
            f"first dimensions {sorted(sizes)}."
        )
    return sizes.pop()


def _gather_counts(feed_dict, comm):
    error, count = None, None
    try:
        count = _batch_count(feed_dict)
    except Exception as err:  # noqa: BLE001 - forwarded to every rank, then re-raised
        error = err
    if comm is None:
        if error is not None:
            raise error
        return [count]
    gathered = comm.allgather((_describe(error), count))
    _raise_gathered([entry[0] for entry in gathered], error)
    return [entry[1] for entry in gathered]


def global_sample_count(feed_dict, comm=None):
    """Number of samples of the global batch whose shard is ``feed_dict`` (collective).

    Without a communicator, the number of samples in ``feed_dict``.
    """
    return int(sum(_gather_counts(feed_dict, comm)))


def partition_feed(feed_dict, parts, comm=None):
    """Split the global batch into ``parts`` contiguous parts; this rank's piece of each.

    Part ``j`` is ``numpy.array_split(global_batch, parts)[j]``, the same parts a
    single process forms, provided the ranks' shards are contiguous and in rank
    order (as :class:`hessianlearn.data.Data` makes them). This rank receives the
    intersection of its shard with each part (possibly empty: it then contributes
    zeros in :func:`evaluate`).

    Parameters
    ----------
    feed_dict : dict
        This rank's shard ``{placeholder: array}``; not modified. Entries that
        are not data (no batch axis) are copied into every part.
    parts : int
        Number of parts, ``1 <= parts <=`` the global number of samples ``N``.
    comm : communicator or None
        Collective call when given.

    Returns
    -------
    feeds : list of dict
        This rank's piece of each part.
    fractions : list of float
        ``n_j / N``, the share of the global batch in part ``j`` (same on all ranks).

    Raises
    ------
    ValueError
        On every rank, if ``parts`` is not an int in ``[1, N]`` or the data arrays
        have different lengths.
    """
    counts = _gather_counts(feed_dict, comm)
    total = int(sum(counts))
    if isinstance(parts, bool) or not isinstance(parts, numbers.Integral) or not 1 <= parts <= total:
        raise ValueError(
            f"parts must be an int between 1 and the number of samples in the global batch "
            f"({total}), got {parts!r}."
        )
    rank = 0 if comm is None else int(comm.Get_rank())
    offset = int(sum(counts[:rank]))
    local = counts[rank]
    has_tensor_keys = count_samples(feed_dict) is not None
    feeds, fractions = [], []
    quotient, remainder = divmod(total, parts)
    for j in range(parts):
        start = j * quotient + min(j, remainder)
        stop = start + quotient + (1 if j < remainder else 0)
        lo, hi = max(start, offset) - offset, min(stop, offset + local) - offset
        lo, hi = (lo, hi) if hi > lo else (0, 0)
        piece = {}
        for key, value in feed_dict.items():
            is_data = _is_batch_key(key) if has_tensor_keys else np.ndim(value) >= 1
            piece[key] = np.asarray(value)[lo:hi] if is_data else value
        feeds.append(piece)
        fractions.append((stop - start) / total)
    return feeds, fractions
