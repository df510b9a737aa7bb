"""Stand-alone iterators of feed dictionaries over a dictionary of arrays.

:class:`DictData` holds arrays that share their first (sample) dimension,
:class:`BatchIterator` serves consecutive batches of it, reshuffling at
every wrap-around, and :class:`StaticIterator` serves the whole set at every
step (a validation set).  These are the building blocks of the original
hessianlearn's ``Data``; :class:`~hessianlearn.data.data.Data` has its own
(sharded, seeded) iterators and does not need them.
"""
import numbers

import numpy as np

__all__ = ["DictData", "BatchIterator", "StaticIterator"]


class DictData:
    """Arrays keyed by placeholders (or any hashable key), sharing the sample axis.

    Parameters
    ----------
    data : dict
        Non-empty; every value an array (or array-like) with the same first
        dimension. The dict is copied, the arrays are referenced and never
        modified.

    Attributes
    ----------
    data : dict
        Key -> ndarray.
    size : int
        Number of samples (the common first dimension).

    Raises
    ------
    TypeError
        ``data`` is not a dict.
    ValueError
        ``data`` is empty, a value has no sample axis, or the first dimensions differ.
    """

    def __init__(self, data):
        if not isinstance(data, dict):
            raise TypeError(f"DictData: 'data' must be a dict of key -> array, got {type(data).__name__}.")
        if not data:
            raise ValueError("DictData: 'data' must hold at least one array, got an empty dict.")
        self.data = {}
        self.size = None
        for key, value in data.items():
            self[key] = value

    def __getitem__(self, key):
        return self.data[key]

    def __setitem__(self, key, value):
        array = np.asarray(value)
        if array.ndim == 0:
            raise ValueError(f"DictData: the array for {key!r} has no sample axis (a scalar).")
        if self.size is None:
            self.size = int(array.shape[0])
        elif array.shape[0] != self.size:
            raise ValueError(f"DictData: the array for {key!r} has {array.shape[0]} samples, the "
                             f"others {self.size}; all arrays must share their first dimension.")
        self.data[key] = array

    def keys(self):
        return self.data.keys()

    def items(self):
        return self.data.items()


def _as_dict_data(data):
    return data if isinstance(data, DictData) else DictData(data)


class BatchIterator:
    """Consecutive batches of ``batch_size`` samples, reshuffled at every wrap-around.

    The first epoch serves the samples in their stored order. A batch that
    runs past the end takes the rest of the current order and continues with
    a new random permutation (seeded by ``seed`` and the epoch number), and
    the epoch count goes up by one; once it reaches ``max_epochs`` the
    iterator stops.

    Parameters
    ----------
    data : DictData or dict
    batch_size : int
        ``1 <= batch_size <= data.size``.
    max_epochs : float, optional
        Default: never stops.
    seed : int, optional
        Seed of the reshuffles.
    verbose : bool, optional
        Print when reshuffling and when stopping; nothing is printed otherwise.

    Yields
    ------
    dict
        Key -> ndarray of ``batch_size`` samples (copies; ``data`` is not modified).
    """

    def __init__(self, data, batch_size, max_epochs=np.inf, seed=0, verbose=False):
        self._data = _as_dict_data(data)
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or not 1 <= batch_size <= self._data.size:
            raise ValueError(f"batch_size must be an int in [1, {self._data.size}] (the number of "
                             f"samples), got {batch_size!r}.")
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, numbers.Real) or max_epochs <= 0:
            raise ValueError(f"max_epochs must be a number > 0 (np.inf: never stop), got {max_epochs!r}.")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}.")
        self._batch_size = int(batch_size)
        self._max_epochs = max_epochs
        self._seed = int(seed)
        self.verbose = bool(verbose)
        self._order = np.arange(self._data.size)
        self._index = 0
        self._epoch = 0

    @property
    def index(self):
        """Position of the next batch in the current order."""
        return self._index

    @property
    def epoch(self):
        """Number of wrap-arounds so far."""
        return self._epoch

    def __iter__(self):
        return self

    def __next__(self):
        if self._epoch >= self._max_epochs:
            if self.verbose:
                print("Maximum epochs reached")
            raise StopIteration
        stop = self._index + self._batch_size
        if stop <= self._data.size:
            rows = self._order[self._index:stop]
            self._index = stop
        else:
            head = self._order[self._index:]
            if self.verbose:
                print("Reshuffling")
            self._epoch += 1
            self._order = np.random.default_rng([self._seed, self._epoch]).permutation(self._data.size)
            self._index = stop - self._data.size
            rows = np.concatenate([head, self._order[:self._index]])
        return {key: array[rows] for key, array in self._data.items()}


class StaticIterator:
    """Serves all of ``data`` at every step, without end (a validation set).

    Parameters
    ----------
    data : DictData or dict

    Yields
    ------
    dict
        Key -> the full array (referenced, not copied).
    """

    def __init__(self, data):
        self._data = _as_dict_data(data)
        self._index = 0

    @property
    def index(self):
        """Number of dictionaries served."""
        return self._index

    def __iter__(self):
        return self

    def __next__(self):
        self._index += 1
        return dict(self._data.items())
