"""The fit loop's progress table."""
import numbers
import sys

import numpy as np

__all__ = ["Printer"]


class Printer:
    """Print a table with one column per item of ``printing_items``.

    Parameters
    ----------
    items : dict
        Header label -> logger key, e.g. ``{'Loss': 'train_loss'}``. A row
        shows the latest value of each logger series (blank when the series is
        empty or missing, e.g. ``rank`` for Adam).
    file : file-like, optional
        Where to print; ``sys.stdout`` (looked up at print time) by default.
    width : int, optional
        Column width (at least 8).
    enabled : bool, optional
        ``False`` makes every method a no-op (quiet runs, non-root MPI ranks).
    """

    def __init__(self, items, file=None, width=11, enabled=True):
        if not isinstance(items, dict):
            raise TypeError(f"items must be a dict of label -> logger key, got {type(items).__name__}.")
        self.items = dict(items)
        self.file = file
        self.width = max(8, int(width))
        self.enabled = bool(enabled)

    def _print(self, text):
        if self.enabled:
            print(text, file=self.file if self.file is not None else sys.stdout, flush=True)

    def _cell(self, value):
        w = self.width
        if value is None:
            return " " * w
        if isinstance(value, (bool, np.bool_)):
            return str(value).rjust(w)
        if isinstance(value, numbers.Integral):
            return str(int(value)).rjust(w)
        if isinstance(value, numbers.Real):
            return f"{float(value):>{w}.3e}" if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e4) \
                else f"{float(value):>{w}.4f}"
        return str(value)[:w].rjust(w)

    def message(self, text):
        """Print one free line (banners, stop messages)."""
        self._print(text)

    def header(self, title=None):
        """Print the optional title and the column labels."""
        labels = "".join(str(label)[: self.width].rjust(self.width) for label in self.items)
        if title:
            self._print(str(title).center(len(labels)))
        self._print(labels)
        self._print("-" * len(labels))

    def row(self, logger):
        """Print the latest value of each item's series in ``logger``."""
        cells = []
        for key in self.items.values():
            series = logger.get(key)
            value = series[max(series)] if isinstance(series, dict) and series else None
            if isinstance(value, np.ndarray):
                value = value.size
            cells.append(self._cell(value))
        self._print("".join(cells))
