"""Seeded, optionally MPI-sharded iterators of feed dictionaries.

A :class:`Data` object turns a dictionary ``{key: array}`` (the keys are the
TensorFlow placeholders of a problem in practice, but any hashable object
works) into

* ``train``: an iterator of training mini-batches ``{key: batch}``,
* ``hess_train``: an independent iterator of Hessian sub-batches drawn from
  the training set (or ``None``),
* ``validation``: a fixed validation dictionary.

The arrays are checked once, at construction: numeric, shaped to fit their
placeholder (read from the key's ``shape``), and free of NaN and inf unless
``check_finite=False``.  All randomness comes from ``numpy.random``
generators seeded once from ``seed``; :meth:`Data.reset` replays the exact
same sequence.  No TensorFlow code lives here.
"""
import copy
import hashlib
import numbers
from collections.abc import Mapping

import numpy as np

__all__ = ["Data", "partition_dictionary"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _key_label(key):
    """A short printable name for a data key (placeholder name if it has one)."""
    name = getattr(key, "name", None)
    if isinstance(name, str):
        return repr(name)
    return repr(key)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _shard_bounds(n, size, rank):
    """Start and stop of part ``rank`` of ``np.array_split(range(n), size)``."""
    quotient, remainder = divmod(n, size)
    start = rank * quotient + min(rank, remainder)
    stop = start + quotient + (1 if rank < remainder else 0)
    return start, stop


# ---------------------------------------------------------------------------
# checks of the arrays
# ---------------------------------------------------------------------------
def _array_label(argument, key):
    """How an array is named in messages: ``'data'['x:0']``."""
    return f"'{argument}'[{_key_label(key)}]"


def _placeholder_dims(key):
    """The static shape of ``key`` as a list (``None`` for unknown sizes), or ``None``.

    ``key`` is a TensorFlow placeholder in practice; any object whose ``shape``
    is a ``TensorShape`` (``as_list``) or a tuple of ints and ``None`` works.
    Keys without a shape, or of unknown rank, give ``None`` (nothing to check).
    """
    shape = getattr(key, "shape", None)
    if shape is None:
        return None
    if hasattr(shape, "as_list"):
        if getattr(shape, "rank", None) is None:
            return None
        return list(shape.as_list())
    try:
        dims = list(shape)
    except TypeError:
        return None
    if all(d is None or _is_int(d) for d in dims):
        return [None if d is None else int(d) for d in dims]
    return None


def _check_fits_placeholder(array, key, argument):
    """Raise ``ValueError`` unless ``array`` can be fed to the placeholder ``key``.

    The rank must equal the placeholder's and every known trailing size must
    match; the first (sample) dimension is not checked, since batches and MPI
    shards vary in length.
    """
    dims = _placeholder_dims(key)
    if dims is None:
        return
    trailing = dims[1:]
    fits = len(dims) == array.ndim and all(
        d is None or d == s for d, s in zip(trailing, array.shape[1:]))
    if fits:
        return
    shown = "(" + ", ".join("None" if d is None else str(d) for d in dims) + \
        ("," if len(dims) == 1 else "") + ")"
    hint = ""
    if dims and None not in trailing \
            and int(np.prod(trailing)) == int(np.prod(array.shape[1:])):
        hint = f" (e.g. array.reshape({', '.join(['-1'] + [str(d) for d in trailing])}))"
    raise ValueError(
        f"Data: {_array_label(argument, key)} has shape {array.shape} (per sample "
        f"{array.shape[1:]}), but its placeholder {_key_label(key)} expects shape {shown} "
        f"(per sample {tuple(trailing)}, any number of samples); reshape the array to fit"
        f"{hint}."
    )


#: Entries checked at a time by the NaN/inf scan (bounds its temporary memory).
_FINITE_CHUNK = 1 << 22


def _non_finite(array):
    """Number of NaN/inf entries of ``array`` and the index of the first one (or ``None``).

    Scans blocks of samples so the temporary mask stays small for large arrays.
    """
    per_sample = max(1, int(np.prod(array.shape[1:])))
    rows = max(1, _FINITE_CHUNK // per_sample)
    count, first = 0, None
    for start in range(0, array.shape[0], rows):
        bad = ~np.isfinite(array[start:start + rows])
        found = int(np.count_nonzero(bad))
        if found and first is None:
            index = np.unravel_index(int(np.argmax(bad)), bad.shape)
            first = (start + int(index[0]),) + tuple(int(i) for i in index[1:])
        count += found
    return count, first


def _check_arrays(data, argument, check_finite=True):
    """Check ``data`` is a non-empty mapping of numeric arrays with one first dimension.

    Each array must be numeric (bool, int, float or complex), fit its key's
    placeholder shape (see :func:`_check_fits_placeholder`) and, if
    ``check_finite``, hold no NaN or inf.  Returns a dict ``{key: ndarray}``
    (no copies made) and the common length.
    """
    if not isinstance(data, Mapping):
        raise TypeError(
            f"Data: '{argument}' must be a dict mapping keys (e.g. placeholders) "
            f"to numpy arrays, got {type(data).__name__}."
        )
    if len(data) == 0:
        raise ValueError(
            f"Data: '{argument}' is empty; give at least one key -> array pair."
        )
    arrays = {}
    lengths = {}
    for key, value in data.items():
        label = _array_label(argument, key)
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Data: {label} cannot be read as one numeric array ({error}); give a "
                "numpy array whose first dimension indexes the samples."
            ) from None
        if array.ndim == 0:
            raise ValueError(
                f"Data: {label} is a scalar; every value "
                "must be an array whose first dimension indexes the samples."
            )
        if array.dtype.kind not in "biufc":
            raise ValueError(
                f"Data: {label} has dtype {array.dtype}, which is not numeric; give "
                "bool, int, float or complex arrays (e.g. array.astype(np.float32))."
            )
        _check_fits_placeholder(array, key, argument)
        if check_finite and array.dtype.kind in "fc":
            bad, first = _non_finite(array)
            if bad:
                raise ValueError(
                    f"Data: {label} contains {bad} NaN or inf entries, the first at "
                    f"index {list(first)}; clean or impute the data before training "
                    "(or pass check_finite=False to skip this check)."
                )
        arrays[key] = array
        lengths[key] = array.shape[0]
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{_key_label(k)}: {n}" for k, n in lengths.items())
        raise ValueError(
            f"Data: all arrays in '{argument}' must have the same first dimension "
            f"(number of samples), got {listing}."
        )
    return arrays, next(iter(lengths.values()))


def partition_dictionary(feed_dict, n):
    """Split one batch dictionary into ``n`` dictionaries along the first axis.

    The pieces follow ``numpy.array_split`` order: concatenating the values of
    piece ``0, 1, ..., n-1`` gives back the original arrays.

    Parameters
    ----------
    feed_dict : dict
        Maps keys to arrays that share their first dimension.
    n : int
        Number of pieces, at most the number of samples.

    Returns
    -------
    list of dict
        ``n`` dictionaries with the same keys.

    Raises
    ------
    ValueError
        If ``n`` is not positive or exceeds the number of samples (a piece
        would be empty), or the arrays have different first dimensions.
    TypeError
        If ``feed_dict`` is not a dict or ``n`` is not an int.

    Examples
    --------
    >>> parts = partition_dictionary({'x': np.arange(5)}, 2)
    >>> [p['x'].tolist() for p in parts]
    [[0, 1, 2], [3, 4]]
    """
    arrays, length = _check_arrays(feed_dict, "feed_dict")
    if not _is_int(n):
        raise TypeError(f"partition_dictionary: 'n' must be an int, got {n!r}.")
    if n <= 0 or n > length:
        raise ValueError(
            f"partition_dictionary: 'n' must be between 1 and the number of "
            f"samples ({length}), got {n}."
        )
    parts = [dict() for _ in range(n)]
    for key, array in arrays.items():
        for part, piece in zip(parts, np.array_split(array, n)):
            part[key] = piece
    return parts


# ---------------------------------------------------------------------------
# MPI agreement, train / validation split
# ---------------------------------------------------------------------------
def _fingerprint(data):
    """``(key, shape, dtype, sha1 of the bytes)`` per array; never raises."""
    if not isinstance(data, Mapping):
        return repr(type(data))
    out = []
    for key, value in data.items():
        try:
            array = np.ascontiguousarray(value)
            digest = hashlib.sha1(array.view(np.uint8).reshape(-1)).hexdigest()
            out.append((_key_label(key), array.shape, array.dtype.str, digest))
        except Exception as error:  # noqa: BLE001 - reported by the local checks later
            out.append((_key_label(key), "unreadable", type(error).__name__))
    return tuple(out)


def _seed_sequence(seed):
    """``(SeedSequence, None)`` for a valid ``seed``, else ``(None, the error)``.

    The error is returned, not raised, so that every MPI rank first takes part
    in :func:`_check_ranks_agree` and then raises with the others.
    """
    try:
        return np.random.SeedSequence(seed), None
    except (TypeError, ValueError) as error:
        return None, error


def _entropy(seed_sequence):
    """The entropy of a seed sequence as a comparable value (``None`` without one)."""
    if seed_sequence is None:
        return None
    entropy = seed_sequence.entropy
    return tuple(entropy) if isinstance(entropy, (list, tuple)) else entropy


def _check_ranks_agree(comm, data, validation_data, settings, seed_sequence):
    """The constructor's one collective: every rank must pass the same global arrays,
    the same settings and, through ``seed_sequence``, the same randomness; else all
    ranks raise.

    Called before any local check may raise on one rank only; after it, the
    constructor's checks see identical inputs on every rank, so they raise on all
    ranks or on none, and no rank waits in a collective.  ``settings`` is
    ``(batch_size, validation_data_size, hessian_batch_size, variable_batch,
    batch_increment, max_epochs, shuffle, seed, check_finite)``; the seed's
    entropy is compared too, which catches ``seed=None`` (fresh entropy per rank).
    """
    if comm is None or not (hasattr(comm, "allgather") and hasattr(comm, "Get_size")):
        return
    batch_size = settings[0] if _is_int(settings[0]) else repr(settings[0])
    facts = (_fingerprint(data), _fingerprint(validation_data) if validation_data is not None
             else None, batch_size, repr(settings[1:]), _entropy(seed_sequence))
    gathered = comm.allgather(facts)
    names = ["data (shapes, dtypes or values)", "validation_data", "batch_size",
             "other settings (validation_data_size, hessian_batch_size, variable_batch, "
             "batch_increment, max_epochs, shuffle, seed, check_finite)",
             "the seed's entropy (seed=None draws different randomness on every rank)"]
    differ = [name for i, name in enumerate(names)
              if any(other[i] != gathered[0][i] for other in gathered[1:])]
    if differ:
        raise ValueError(
            f"Data: the {len(gathered)} MPI ranks disagree on {'; '.join(differ)}; every rank "
            "must build Data from the same global arrays with the same settings and an "
            "explicit common 'seed' (each rank then takes its own shard)."
        )


def _split(arrays, n_total, validation_data_size, split_seed):
    """Split ``validation_data_size`` random samples off ``arrays`` as the validation set.

    The validation samples are the first ``validation_data_size`` of a seeded
    permutation; the training samples keep their original order.  Returns new
    ``train`` and ``validation`` dicts (copies) and the validation size.
    """
    if validation_data_size is None:
        raise ValueError(
            "Data: give 'validation_data_size' (number of samples to split "
            "off as validation set) or pass 'validation_data'."
        )
    if not _is_int(validation_data_size):
        raise TypeError(
            "Data: 'validation_data_size' must be an int, got "
            f"{validation_data_size!r}."
        )
    if not 0 < validation_data_size < n_total:
        raise ValueError(
            "Data: 'validation_data_size' must be between 1 and "
            f"{n_total - 1} (the data has {n_total} samples and training "
            f"needs at least one), got {validation_data_size}."
        )
    permutation = np.random.default_rng(split_seed).permutation(n_total)
    validation_index = permutation[:validation_data_size]
    train_index = np.sort(permutation[validation_data_size:])
    train = {k: np.take(a, train_index, axis=0) for k, a in arrays.items()}
    validation = {k: np.take(a, validation_index, axis=0) for k, a in arrays.items()}
    return train, validation, validation_data_size


def _take_validation_data(arrays, validation_data, validation_data_size, check_finite):
    """Check a separate ``validation_data`` against ``arrays`` and copy both.

    ``validation_data`` must have the same keys and per-sample shapes as
    ``arrays`` (and pass the checks of :func:`_check_arrays`); only its first
    ``validation_data_size`` samples are kept when that is given.  Returns new
    ``train`` and ``validation`` dicts (copies) and the validation size.
    """
    given, n_given = _check_arrays(validation_data, "validation_data", check_finite)
    if set(given) != set(arrays):
        raise ValueError(
            "Data: 'validation_data' must have the same keys as 'data'; "
            f"data has {sorted(map(_key_label, arrays))}, validation_data "
            f"has {sorted(map(_key_label, given))}."
        )
    for key, array in arrays.items():
        if given[key].shape[1:] != array.shape[1:]:
            raise ValueError(
                f"Data: per-sample shape of 'validation_data'[{_key_label(key)}] "
                f"is {given[key].shape[1:]}, but 'data' has "
                f"{array.shape[1:]}; they must match."
            )
    if validation_data_size is None:
        validation_data_size = n_given
    elif not _is_int(validation_data_size):
        raise TypeError(
            "Data: 'validation_data_size' must be an int, got "
            f"{validation_data_size!r}."
        )
    elif not 0 < validation_data_size <= n_given:
        raise ValueError(
            "Data: 'validation_data_size' must be between 1 and the "
            f"size of 'validation_data' ({n_given}), got "
            f"{validation_data_size}."
        )
    train = {k: np.array(a, copy=True) for k, a in arrays.items()}
    validation = {k: np.array(given[k][:validation_data_size], copy=True) for k in arrays}
    return train, validation, validation_data_size


# ---------------------------------------------------------------------------
# index streams
# ---------------------------------------------------------------------------
class _IndexStream:
    """An endless stream of sample indices: one permutation of range(n) per epoch.

    ``take(k)`` returns the next ``k`` indices, continuing into a freshly
    shuffled next epoch when the current one runs out.
    """

    def __init__(self, n, seed_sequence, shuffle):
        self.n = n
        self._seed_sequence = seed_sequence
        self._shuffle = shuffle
        self.reset()

    def reset(self):
        self._rng = np.random.default_rng(self._seed_sequence)
        self.served = 0
        self._order = self._new_order()
        self._position = 0

    def _new_order(self):
        if self._shuffle:
            return self._rng.permutation(self.n)
        return np.arange(self.n)

    def _avoid_repeats(self, taken, head):
        """Reorder the new epoch so its first ``head`` indices avoid ``taken``.

        Called when a batch spans two epochs: the indices of the old epoch
        already in the batch are swapped out of the head of the new order
        (with the earliest free indices after the head), so a batch never
        holds a sample twice.  The new order is still a permutation.
        """
        order = self._order
        clash = np.isin(order[:head], taken)
        if not clash.any():
            return
        free = np.flatnonzero(~np.isin(order[head:], taken)) + head
        positions = np.flatnonzero(clash)
        swap = free[: len(positions)]
        order[positions], order[swap] = order[swap], order[positions].copy()

    @property
    def epoch(self):
        """Number of epochs fully served."""
        return self.served // self.n

    def take(self, k):
        """Return the next ``k <= n`` indices, all distinct."""
        pieces = []
        needed = k
        while needed > 0:
            if self._position == self.n:
                self._order = self._new_order()
                self._position = 0
                if pieces:
                    self._avoid_repeats(np.concatenate(pieces), needed)
            stop = min(self.n, self._position + needed)
            pieces.append(self._order[self._position:stop])
            needed -= stop - self._position
            self._position = stop
        self.served += k
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def state_dict(self):
        """The stream's position: generator state, epoch order, position, samples served."""
        return {"rng": copy.deepcopy(self._rng.bit_generator.state), "order": self._order.copy(),
                "position": self._position, "served": self.served}

    def load_state_dict(self, state):
        """Continue from a :meth:`state_dict` of a stream over the same ``n`` samples."""
        order = np.asarray(state["order"])
        if order.shape != (self.n,):
            raise ValueError(
                f"the saved sample stream orders {order.size} samples; this one has {self.n}."
            )
        self._rng.bit_generator.state = copy.deepcopy(state["rng"])
        self._order = order.copy()
        self._position = int(state["position"])
        self.served = int(state["served"])


class _BatchIterator:
    """Iterator of (sharded) batch dictionaries over a fixed array dictionary."""

    def __init__(self, arrays, stream, size_rule, total, rank, size):
        self._arrays = arrays
        self._stream = stream
        self._size_rule = size_rule
        self._total = total
        self._rank = rank
        self._size = size
        self.local_batch_fraction = None
        self.global_batch_size = size_rule(0)

    def __iter__(self):
        return self

    def reset(self):
        self._stream.reset()
        self.local_batch_fraction = None
        self.global_batch_size = self._size_rule(0)

    def __next__(self):
        batch_size = self._size_rule(self._stream.epoch)
        if self._stream.served + batch_size > self._total:
            raise StopIteration
        indices = self._stream.take(batch_size)
        start, stop = _shard_bounds(batch_size, self._size, self._rank)
        local = indices[start:stop]
        self.global_batch_size = batch_size
        self.local_batch_fraction = len(local) / batch_size
        return {key: array[local] for key, array in self._arrays.items()}

    def state_dict(self):
        """The iterator's position (its index stream's state and the last batch's sizes)."""
        return {"stream": self._stream.state_dict(), "global_batch_size": self.global_batch_size,
                "local_batch_fraction": self.local_batch_fraction}

    def load_state_dict(self, state):
        """Continue from a :meth:`state_dict`: the next batches are the ones that followed it."""
        self._stream.load_state_dict(state["stream"])
        self.global_batch_size = state["global_batch_size"]
        self.local_batch_fraction = state["local_batch_fraction"]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
class Data:
    """Training, Hessian and validation feed dictionaries from arrays.

    Parameters
    ----------
    data : dict
        Maps keys (TensorFlow placeholders in practice; any hashable object)
        to arrays sharing their first dimension, the sample axis.  The arrays
        are copied once into the training and validation sets; the caller's
        arrays are never modified or reordered.  Each array must be numeric
        (bool, int, float or complex) and, when its key has a static shape
        (a placeholder), have the key's rank and every known size after the
        first: a ``(None, 784)`` placeholder takes ``(n, 784)`` arrays, not
        ``(n, 28, 28)`` ones.
    batch_size : int
        Samples per training batch, ``1 <= batch_size <= N`` with ``N`` the
        training set size.
    validation_data : dict, optional
        A separate validation set with the same keys and per-sample shapes as
        ``data``.  If given, all of ``data`` is training data; if
        ``validation_data_size`` is also given, only the first
        ``validation_data_size`` validation samples are kept.
    validation_data_size : int, optional
        Required when ``validation_data`` is ``None``: this many samples,
        chosen by a seeded random permutation, are split off ``data`` as the
        validation set (``0 < validation_data_size < len(data)``).
    hessian_batch_size : int, optional
        Samples per Hessian batch (``hess_train``), at most ``N``.  A value
        ``<= 0`` (default ``-1``) means no Hessian batches; the attribute is
        then ``0`` and ``hess_train`` is ``None``.
    variable_batch : bool, optional
        If ``True`` the training batch size grows by ``batch_increment`` each
        time an epoch is completed, capped at ``N``: a batch that starts in
        epoch ``e`` (counted from 0) has
        ``min(N, batch_size + e * batch_increment)`` samples.
    batch_increment : int, optional
        Growth per epoch for ``variable_batch``; defaults to the initial
        ``batch_size``.  Only allowed with ``variable_batch=True``.
    max_epochs : float, optional
        ``train`` stops before the first batch that would need samples beyond
        ``max_epochs * N`` samples served in total (default: never stops).
    shuffle : bool, optional
        Reshuffle the training set every epoch (default).  If ``False`` the
        training samples are served in their original order.  The
        train/validation split is random either way.
    seed : int, optional
        Seed of all randomness (split, training order, Hessian batches).
    verbose : bool, optional
        Print a one-line summary (rank 0 only).
    comm : mpi4py-like communicator, optional
        An object with ``Get_rank()`` and ``Get_size()`` (and ``allgather``,
        used once to check that all ranks pass the same arrays, settings and
        seed).  Every rank
        walks through the same global batches as a single process with the
        same seed, but receives only its contiguous shard (``numpy.array_split``
        order) of every training, Hessian and validation batch.
    check_finite : bool, optional
        Reject float and complex arrays holding NaN or inf (default).  The
        scan reads every entry once, in blocks of samples; ``False`` skips it
        for very large data known to be clean.

    Attributes
    ----------
    train : iterator of dict
        Training batches.  The index stream concatenates one shuffled
        permutation of the training set per epoch and cuts it into batches of
        ``batch_size``, so every batch has the full size, each sample appears
        exactly once per epoch of the stream, and a batch may span two epochs
        (the new epoch's order is then adjusted so that no sample appears
        twice in one batch).
    hess_train : iterator of dict or None
        Endless Hessian batches of ``hessian_batch_size`` training samples,
        from its own independently shuffled stream.
    validation : dict
        The (local shard of the) validation set.
    batch_factor : list of float
        ``[batch_size / N, hessian_batch_size / N]``: the cost in epochs of one
        gradient on a training batch and of one Hessian-vector product on a
        Hessian batch.
    train_data_size, validation_data_size : int
        Global sizes ``N`` and of the validation set.
    batch_size : int
        Global size of the last training batch served (of the first one
        before iteration starts); it changes only with ``variable_batch``.
    hessian_batch_size : int
        Global Hessian batch size (``0`` when disabled).
    epoch : int
        Number of training epochs completely served so far.
    local_batch_fraction : float
        Shard size over global size of the last training batch (1.0 without
        ``comm``; before the first batch, that of the first batch).  Summing
        ``local_batch_fraction * local_mean_gradient`` over ranks gives the
        global mean gradient.
    local_hessian_batch_fraction, local_validation_fraction : float
        The same for the Hessian batches and the validation set.
    check_finite : bool
        Whether the arrays were scanned for NaN and inf.

    Raises
    ------
    TypeError
        ``data`` or ``validation_data`` not a dict, sizes not ints, ``comm``
        without ``Get_rank``/``Get_size``, ``check_finite`` not a bool.
    ValueError
        Empty data, non-numeric arrays, arrays that do not fit their
        placeholder's shape (the message names the placeholder, its shape and
        the array's), mismatched first dimensions, keys or per-sample shapes,
        NaN/inf entries (with ``check_finite``; the message names the array
        and the index of the first one), or sizes out of range.

    Examples
    --------
    >>> x = np.arange(10.0).reshape(10, 1)
    >>> data = Data({'x': x}, batch_size=4, validation_data_size=2, max_epochs=1)
    >>> data.train_data_size, data.batch_factor
    (8, [0.5, 0.0])
    >>> [batch['x'].shape for batch in data.train]
    [(4, 1), (4, 1)]
    """

    def __init__(
        self,
        data,
        batch_size,
        validation_data=None,
        validation_data_size=None,
        hessian_batch_size=-1,
        variable_batch=False,
        batch_increment=None,
        max_epochs=np.inf,
        shuffle=True,
        seed=0,
        verbose=False,
        comm=None,
        check_finite=True,
    ):
        seed_sequence, seed_error = _seed_sequence(seed)
        _check_ranks_agree(comm, data, validation_data, (
            batch_size, validation_data_size, hessian_batch_size, variable_batch,
            batch_increment, max_epochs, shuffle, seed, check_finite), seed_sequence)
        if not isinstance(check_finite, bool):
            raise TypeError(f"Data: 'check_finite' must be True or False, got {check_finite!r}.")
        arrays, n_total = _check_arrays(data, "data", check_finite)
        if seed_error is not None:
            raise ValueError(
                f"Data: 'seed' must be a non-negative int or None, got {seed!r}."
            ) from seed_error
        split_seed, train_seed, hessian_seed = seed_sequence.spawn(3)
        self._set_communicator(comm)
        if validation_data is None:
            train, validation, validation_data_size = _split(
                arrays, n_total, validation_data_size, split_seed)
        else:
            train, validation, validation_data_size = _take_validation_data(
                arrays, validation_data, validation_data_size, check_finite)
        for array in list(train.values()) + list(validation.values()):
            array.flags.writeable = False
        n_train = next(iter(train.values())).shape[0]
        hessian_batch_size, batch_increment = self._check_sizes(
            n_train, batch_size, hessian_batch_size, validation_data_size,
            variable_batch, batch_increment, max_epochs)

        self.train_data_size = n_train
        self.validation_data_size = validation_data_size
        self.hessian_batch_size = hessian_batch_size
        self.variable_batch = bool(variable_batch)
        self.batch_increment = batch_increment
        self.max_epochs = max_epochs
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.check_finite = check_finite
        self._initial_batch_size = batch_size
        self._train_arrays = train
        self._make_iterators(train, batch_size, train_seed, hessian_seed)
        self._shard_validation(validation)

        if verbose and self.rank == 0:
            print(
                f"Data: {n_train} training, {validation_data_size} validation "
                f"samples; batch {batch_size}, Hessian batch {hessian_batch_size}"
                + (f", {self.size} ranks" if self.size > 1 else "")
            )

    # -- construction steps --------------------------------------------------
    def _set_communicator(self, comm):
        """Set ``comm``, ``rank`` and ``size`` (0 and 1 without a communicator)."""
        if comm is None:
            self.rank, self.size = 0, 1
        else:
            if not (hasattr(comm, "Get_rank") and hasattr(comm, "Get_size")):
                raise TypeError(
                    "Data: 'comm' must be an MPI communicator (with Get_rank and "
                    f"Get_size), e.g. mpi4py.MPI.COMM_WORLD, got {type(comm).__name__}."
                )
            self.rank, self.size = int(comm.Get_rank()), int(comm.Get_size())
        self.comm = comm

    def _check_sizes(self, n_train, batch_size, hessian_batch_size, validation_data_size,
                     variable_batch, batch_increment, max_epochs):
        """Check the batch sizes, growth and epoch budget against ``n_train`` and the ranks.

        Returns the Hessian batch size (``0`` when disabled) and the batch increment
        (``batch_size`` by default with ``variable_batch``).
        """
        if not _is_int(batch_size):
            raise TypeError(f"Data: 'batch_size' must be an int, got {batch_size!r}.")
        if not 0 < batch_size <= n_train:
            raise ValueError(
                f"Data: 'batch_size' must be between 1 and the training set size "
                f"({n_train}), got {batch_size}."
            )
        if not _is_int(hessian_batch_size):
            raise TypeError(
                "Data: 'hessian_batch_size' must be an int (<= 0 to disable), got "
                f"{hessian_batch_size!r}."
            )
        if hessian_batch_size > n_train:
            raise ValueError(
                "Data: 'hessian_batch_size' must be at most the training set size "
                f"({n_train}), got {hessian_batch_size}; use <= 0 to disable."
            )
        hessian_batch_size = max(int(hessian_batch_size), 0)
        if batch_increment is not None and not variable_batch:
            raise ValueError(
                "Data: 'batch_increment' is only used with variable_batch=True; "
                "set variable_batch=True or drop batch_increment."
            )
        if variable_batch:
            if batch_increment is None:
                batch_increment = batch_size
            if not _is_int(batch_increment) or batch_increment <= 0:
                raise ValueError(
                    "Data: 'batch_increment' must be a positive int, got "
                    f"{batch_increment!r}."
                )
        try:
            max_epochs_ok = float(max_epochs) > 0
        except (TypeError, ValueError):
            max_epochs_ok = False
        if not max_epochs_ok:
            raise ValueError(
                f"Data: 'max_epochs' must be a positive number (or numpy.inf), "
                f"got {max_epochs!r}."
            )
        if self.size > 1:
            for name, value in [
                ("batch_size", batch_size),
                ("hessian_batch_size", hessian_batch_size),
                ("validation_data_size", validation_data_size),
            ]:
                if value and value < self.size:
                    raise ValueError(
                        f"Data: '{name}' ({value}) is smaller than the number of "
                        f"MPI ranks ({self.size}); every rank needs at least one "
                        f"sample: use '{name}' >= {self.size} or fewer ranks."
                    )
        return hessian_batch_size, batch_increment

    def _make_iterators(self, train, batch_size, train_seed, hessian_seed):
        """Build ``train`` and ``hess_train`` over the training arrays, each with its stream."""
        n_train, batch_increment = self.train_data_size, self.batch_increment

        def size_rule(epoch):
            if not self.variable_batch:
                return batch_size
            return min(n_train, batch_size + epoch * batch_increment)

        self._train_stream = _IndexStream(n_train, train_seed, self.shuffle)
        self.train = _BatchIterator(
            train,
            self._train_stream,
            size_rule,
            float(self.max_epochs) * n_train,
            self.rank,
            self.size,
        )
        hessian_batch_size = self.hessian_batch_size
        if hessian_batch_size > 0:
            self.hess_train = _BatchIterator(
                train,
                _IndexStream(n_train, hessian_seed, True),
                lambda epoch: hessian_batch_size,
                np.inf,
                self.rank,
                self.size,
            )
            start, stop = _shard_bounds(hessian_batch_size, self.size, self.rank)
            self.local_hessian_batch_fraction = (stop - start) / hessian_batch_size
        else:
            self.hess_train = None
            self.local_hessian_batch_fraction = 0.0

    def _shard_validation(self, validation):
        """Keep this rank's contiguous shard of the validation arrays."""
        start, stop = _shard_bounds(self.validation_data_size, self.size, self.rank)
        self.validation = {k: a[start:stop] for k, a in validation.items()}
        self.local_validation_fraction = (stop - start) / self.validation_data_size

    # -- derived quantities --------------------------------------------------
    @property
    def batch_size(self):
        """Global size of the last training batch (of the first, before any)."""
        return self.train.global_batch_size

    @property
    def batch_factor(self):
        """``[batch_size / N, hessian_batch_size / N]`` (epochs per evaluation)."""
        n = self.train_data_size
        return [self.batch_size / n, self.hessian_batch_size / n]

    @property
    def epoch(self):
        """Number of training epochs completely served so far."""
        return self._train_stream.epoch

    @property
    def local_batch_fraction(self):
        """This rank's share of the last training batch (shard size / batch size)."""
        fraction = self.train.local_batch_fraction
        if fraction is None:
            start, stop = _shard_bounds(self.batch_size, self.size, self.rank)
            fraction = (stop - start) / self.batch_size
        return fraction

    def reset(self):
        """Restart ``train`` and ``hess_train`` at the start of the seeded sequence."""
        self.train.reset()
        if self.hess_train is not None:
            self.hess_train.reset()

    def state_dict(self):
        """Positions of ``train`` and ``hess_train`` (for checkpoints): a dict of numpy state.

        With :meth:`load_state_dict` on a ``Data`` built from the same arrays and
        settings, the iterators continue with the batches that followed.
        """
        return {"train": self.train.state_dict(),
                "hess_train": None if self.hess_train is None else self.hess_train.state_dict()}

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict`; raises ``ValueError`` if the iterators differ."""
        if (state["hess_train"] is None) != (self.hess_train is None):
            raise ValueError(
                "the saved data state and this Data differ in having Hessian batches "
                f"(hessian_batch_size here {self.hessian_batch_size})."
            )
        self.train.load_state_dict(state["train"])
        if self.hess_train is not None:
            self.hess_train.load_state_dict(state["hess_train"])
