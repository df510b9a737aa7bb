"""The training logger: a plain dict of per-iteration records, saved atomically.

A logger is a ``dict``. Run-level entries (``dimension``, ``optimizer``,
``batch_size``, ``status``, ...) are plain values; per-iteration quantities
(``train_loss``, ``||g||``, ``sweeps``, ``val_loss``, ...) are dicts keyed by
the iteration number. It is pickled so that numpy arrays (eigenvalues, best
weights) survive, and a small JSON summary (scalars and the last value of every
series) is written next to it for a quick look without Python.

Files are written to a temporary file in the target folder and moved into
place with :func:`os.replace`, so a reader never sees a half-written logger,
even when a run is interrupted while saving.
"""
import json
import numbers
import os
import pickle
import tempfile

import numpy as np

__all__ = ["SERIES_KEYS", "new_logger", "save_logger", "load_logger", "logger_summary",
           "last_value"]

#: Per-iteration series present in every logger.
SERIES_KEYS = ("train_loss", "train_data_loss", "||g||", "train_acc", "sweeps", "time", "total_time",
               "alpha", "hessian_low_rank", "val_loss", "val_acc", "max_val_acc")


def new_logger(**run_info):
    """A logger with every series of :data:`SERIES_KEYS` empty and ``run_info`` as entries."""
    logger = {key: {} for key in SERIES_KEYS}
    logger.update(run_info)
    logger.setdefault("status", "running")
    logger.setdefault("stop_reason", None)
    logger.setdefault("best_weights", None)
    return logger


def last_value(series, default=None):
    """The value of the highest iteration in a series dict (``default`` when empty)."""
    if not series:
        return default
    return series[max(series)]


def _jsonable(value):
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if np.isfinite(value) else repr(value)
    if isinstance(value, np.ndarray) and value.size <= 64:
        return [_jsonable(v) for v in value.ravel().tolist()]
    if isinstance(value, (list, tuple)) and len(value) <= 64:
        return [_jsonable(v) for v in value]
    return None


def logger_summary(logger):
    """Scalars of the logger and the last value of each series (JSON-ready dict)."""
    summary = {}
    for key, value in logger.items():
        if key == "best_weights":
            continue
        if isinstance(value, dict) and all(isinstance(k, numbers.Integral) for k in value):
            summary[key] = {"iterations": len(value), "last": _jsonable(last_value(value))}
        else:
            converted = _jsonable(value)
            if converted is not None or value is None:
                summary[key] = converted
    return summary


def atomic_write(path, write):
    """Write a file so that ``path`` always holds either its old or its complete new content.

    ``write(file)`` fills a temporary file in the same folder (binary mode); it is
    flushed and fsynced, then renamed onto ``path`` (:func:`os.replace`, atomic on
    POSIX and Windows) and the folder is fsynced where the platform allows, so
    even a process killed mid-write (SIGKILL) leaves ``path`` readable.
    """
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    try:  # make the rename itself durable
        folder = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def save_logger(logger, directory, name):
    """Write ``<directory>/<name>.pkl`` (the logger) and ``<name>.json`` (its summary) atomically.

    Parameters
    ----------
    logger : dict
    directory : str or os.PathLike
        Created when missing.
    name : str
        File name without extension.

    Returns
    -------
    str
        Path of the pickle file.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}.pkl")
    atomic_write(path, lambda file: pickle.dump(logger, file, protocol=pickle.HIGHEST_PROTOCOL))
    summary = json.dumps(logger_summary(logger), indent=1, sort_keys=True).encode()
    atomic_write(os.path.join(directory, f"{name}.json"), lambda file: file.write(summary))
    return path


def load_logger(path):
    """Read a logger written by :func:`save_logger` (``path`` of the ``.pkl`` file)."""
    with open(path, "rb") as file:
        return pickle.load(file)
