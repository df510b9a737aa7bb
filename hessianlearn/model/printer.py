"""The fit loop's progress output: the table (:class:`Printer`) and the sweep bar (:class:`ProgressBar`)."""
import numbers
import sys
import warnings

import numpy as np

__all__ = ["Printer", "ProgressBar"]

_TQDM_HINT = "settings['progress_bar'] needs tqdm (pip install tqdm); training continues without a bar."


class Printer:
    """Print a table with one column per item of ``printing_items``.

    Parameters
    ----------
    items : dict
        Header label -> logger key, e.g. ``{'Loss': 'train_loss'}``. A row
        shows each logger series' value at one iteration, or its latest value
        (blank when there is none, e.g. ``rank`` for Adam).
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

    def row(self, logger, iteration=None):
        """Print one row and return its line: each item's value at ``iteration`` (blank where
        the series has no entry there), or the latest value of each series when ``iteration``
        is None."""
        cells = []
        for key in self.items.values():
            series = logger.get(key)
            if not isinstance(series, dict) or not series:
                value = None
            elif iteration is None:
                value = series[max(series)]
            else:
                value = series.get(iteration)
            if isinstance(value, np.ndarray):
                value = value.size
            cells.append(self._cell(value))
        line = "".join(cells)
        self._print(line)
        return line


class ProgressBar:
    """A tqdm bar over sweeps: ``0 .. total`` sweeps of work, advanced after every iteration.

    Parameters
    ----------
    total : float
        ``settings['max_sweeps']``; an infinite budget gives a bar without a total.
    enabled : bool, optional
        ``False`` (table on, non-root MPI ranks) makes every method a no-op.
    description : str, optional
        Text left of the bar (the optimizer name).
    file : file-like, optional
        Where to draw; tqdm's default (``sys.stderr``) when None.

    Notes
    -----
    When ``enabled`` and tqdm is not installed, a ``RuntimeWarning`` says so
    (with the install command) and the bar stays off; training is not affected.
    """

    def __init__(self, total, enabled=True, description=None, file=None):
        self._bar = None
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            warnings.warn(_TQDM_HINT, RuntimeWarning, stacklevel=3)
            return
        total = float(total)
        finite = bool(np.isfinite(total))
        bar_format = "{l_bar}{bar}| {n:.2f}/{total:.2f} sweeps [{elapsed}<{remaining}{postfix}]" if finite else None
        self._bar = tqdm(total=total if finite else None, desc=description, unit="sweep", file=file,
                         bar_format=bar_format, dynamic_ncols=True, leave=True)

    @property
    def enabled(self):
        """Whether a bar is drawn."""
        return self._bar is not None

    def update(self, sweeps, logger=None):
        """Move the bar to ``sweeps`` (capped at the total); show the last losses from ``logger``."""
        if self._bar is None:
            return
        total = self._bar.total
        target = min(float(sweeps), total) if total is not None else float(sweeps)
        postfix = {}
        for key, label in (("train_loss", "loss"), ("val_loss", "val_loss"), ("val_acc", "val_acc")):
            series = (logger or {}).get(key)
            if isinstance(series, dict) and series:
                postfix[label] = f"{series[max(series)]:.3e}" if key != "val_acc" else f"{series[max(series)]:.4f}"
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)
        # update() redraws at most every tqdm mininterval (0.1 s): log files stay small.
        self._bar.update(target - self._bar.n)

    def close(self):
        """Finish the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
