"""A validated, self-describing set of named parameters.

Every parameter set in hessianlearn (optimizer settings, model settings, ...)
is a :class:`ParameterList`: a fixed set of keys, each with a value and a
one-line description.  Reading or writing a key that is not in the set raises
``KeyError`` with a close-match suggestion, so a typo such as
``parameters['alpa'] = 1e-3`` fails loudly instead of being silently ignored.

Library modules provide factory functions that return a fresh list each call,
for example::

    def ParametersAdam():
        return ParameterList({
            'alpha': [1e-3, 'Learning rate'],
            'beta_1': [0.9, 'First moment decay'],
        })
"""
import copy as _copy
import difflib

import numpy as np

__all__ = ["ParameterList"]


def _copy_value(value):
    """Deep-copy mutable containers; leave other objects shared."""
    if isinstance(value, (list, dict, set, bytearray, np.ndarray)):
        return _copy.deepcopy(value)
    return value


class ParameterList:
    """A fixed set of named parameters, each with a value and a description.

    Parameters
    ----------
    data : mapping
        Maps each key to a two-element sequence ``[value, description]``.
        The mapping is copied; values that are mutable containers (list,
        dict, set, numpy array) are copied deeply, other objects (models,
        callables, ...) are referenced.  The caller's object is never shared
        or modified.

    Raises
    ------
    TypeError
        If ``data`` is not a mapping, or an entry is not a
        ``[value, description]`` pair with a string description.

    Examples
    --------
    >>> p = ParameterList({'alpha': [1e-3, 'Learning rate']})
    >>> p['alpha']
    0.001
    >>> p['alpha'] = 1e-2
    >>> p['alpha']
    0.01
    >>> 'alpha' in p
    True
    """

    def __init__(self, data):
        if isinstance(data, ParameterList):
            data = data._data
        if not hasattr(data, "items"):
            raise TypeError(
                "ParameterList: 'data' must be a dict mapping key -> "
                f"[value, description], got {type(data).__name__}."
            )
        checked = {}
        for key, entry in data.items():
            if (
                not isinstance(entry, (list, tuple))
                or len(entry) != 2
                or not isinstance(entry[1], str)
            ):
                raise TypeError(
                    f"ParameterList: entry {key!r} must be a pair "
                    f"[value, description] with a string description, "
                    f"got {entry!r}."
                )
            checked[key] = [_copy_value(entry[0]), entry[1]]
        self._data = checked

    # -- key checking -------------------------------------------------------
    def _check_key(self, key):
        if key in self._data:
            return
        valid = list(self._data.keys())
        message = f"Unknown parameter {key!r}."
        if isinstance(key, str):
            str_keys = [k for k in valid if isinstance(k, str)]
            close = difflib.get_close_matches(key, str_keys, n=1)
            if close:
                message += f" Did you mean {close[0]!r}?"
        message += f" Valid keys: {', '.join(repr(k) for k in valid)}."
        raise KeyError(message)

    # -- mapping-like access ----------------------------------------------
    def __getitem__(self, key):
        try:
            return self._data[key][0]
        except (KeyError, TypeError):  # unknown or unhashable: the message with suggestions
            self._check_key(key)
            raise

    def __setitem__(self, key, value):
        self._check_key(key)
        self._data[key][0] = value

    def __contains__(self, key):
        return key in self._data

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __eq__(self, other):
        if not isinstance(other, ParameterList):
            return NotImplemented
        return self._data == other._data

    def keys(self):
        """Return the parameter names (a view, in definition order)."""
        return self._data.keys()

    def items(self):
        """Return a list of ``(key, value)`` pairs in definition order."""
        return [(key, entry[0]) for key, entry in self._data.items()]

    def description(self, key):
        """Return the description string of ``key`` (``KeyError`` if unknown)."""
        self._check_key(key)
        return self._data[key][1]

    def copy(self):
        """Return an independent copy (containers copied, see the class doc)."""
        return ParameterList(self._data)

    def update(self, mapping):
        """Set several values at once from a mapping ``key -> value``.

        All keys are checked before anything is written, so an unknown key
        leaves the list unchanged.

        Raises
        ------
        KeyError
            If any key of ``mapping`` is not a parameter of this list.
        TypeError
            If ``mapping`` is not a mapping.
        """
        if isinstance(mapping, ParameterList):
            mapping = dict(mapping.items())
        if not hasattr(mapping, "items"):
            raise TypeError(
                "ParameterList.update: 'mapping' must be a dict of "
                f"key -> value, got {type(mapping).__name__}."
            )
        pairs = list(mapping.items())
        for key, _ in pairs:
            self._check_key(key)
        for key, value in pairs:
            self._data[key][0] = value

    def as_dict(self):
        """Return a plain ``dict`` of ``key -> value`` (a shallow copy)."""
        return {key: entry[0] for key, entry in self._data.items()}

    # -- display ----------------------------------------------------------
    def _table(self):
        rows = [(str(k), repr(e[0]), e[1]) for k, e in self._data.items()]
        header = ("Parameter", "Value", "Description")
        widths = [
            max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(3)
        ]
        line = "  ".join("-" * w for w in widths)

        def fmt(row):
            return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

        return "\n".join([fmt(header), line] + [fmt(row) for row in rows])

    def showMe(self, file=None):
        """Print the parameters as a table (name, value, description).

        Parameters
        ----------
        file : file-like, optional
            Where to print; defaults to ``sys.stdout``.
        """
        print(self._table(), file=file)

    def __str__(self):
        return self._table()

    def __repr__(self):
        return f"ParameterList({self.as_dict()!r})"
