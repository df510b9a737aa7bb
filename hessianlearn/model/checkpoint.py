"""Checkpoint files of a fit: written atomically, verified on reading, the newest two kept.

A checkpoint holds the whole state of a fit between two steps (a ``dict``
built by :class:`~hessianlearn.model.model.HessianlearnModel`): the weights,
the optimizer's :meth:`~hessianlearn.algorithms.optimizer.Optimizer.state_dict`
(and, per MPI rank, its
:meth:`~hessianlearn.algorithms.optimizer.Optimizer.rank_local_state`),
the data iterators' positions, the loop counters, the logger so far, the best
weights and score, and a *fingerprint* of the run (settings, network, data
sizes) that a resumed fit must match.

File format: the line ``MAGIC``, the SHA-256 hex digest of the payload and a
newline, then the payload (a pickle). A file whose digest does not match (a
truncated or corrupted file) is refused by :func:`read_checkpoint`. Files are
named ``<run name>.<iteration, 9 digits>.ckpt`` in
``<problem_name>_logging/checkpoints/`` and written by
``hessianlearn.model.logger.atomic_write`` (temporary file, fsync,
rename), so a process killed at any moment leaves the previous checkpoints
intact and readable.
"""
import glob
import hashlib
import os
import pickle
import re
import warnings

from .logger import atomic_write

__all__ = ["CHECKPOINT_FOLDER", "KEEP_CHECKPOINTS", "write_checkpoint", "read_checkpoint",
           "checkpoint_paths", "newest_checkpoint", "remove_checkpoints", "fingerprint_differences"]

#: Sub-folder of ``<problem_name>_logging/`` holding the checkpoints.
CHECKPOINT_FOLDER = "checkpoints"
#: Number of newest checkpoints of a run kept on disk (older ones are removed).
KEEP_CHECKPOINTS = 2
MAGIC = b"hessianlearn-checkpoint-1\n"
_DIGEST_LENGTH = 64


def _pattern(name):
    return re.compile(re.escape(name) + r"\.(\d{9})\.ckpt$")


def checkpoint_paths(directory, name):
    """Checkpoints of run ``name`` in ``directory``, oldest first (by iteration)."""
    pattern = _pattern(name)
    found = []
    for path in glob.glob(os.path.join(glob.escape(directory), f"{glob.escape(name)}.*.ckpt")):
        match = pattern.match(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def write_checkpoint(state, directory, name, iteration, keep=KEEP_CHECKPOINTS):
    """Write ``state`` as checkpoint ``iteration`` of run ``name``; keep the newest ``keep``.

    Parameters
    ----------
    state : dict
        Picklable checkpoint content.
    directory : str
        Created when missing.
    name : str
        Run name (the logger's file name).
    iteration : int
        The next iteration of the fit (orders the files).
    keep : int
        How many of the run's newest checkpoints stay; older ones (and the
        temporary files of an earlier writer of the run that was killed) are
        removed only after the new one is in place. One process writes a run.

    Returns
    -------
    str
        Path of the new file.
    """
    os.makedirs(directory, exist_ok=True)
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest().encode()
    path = os.path.join(directory, f"{name}.{int(iteration):09d}.ckpt")

    def write(file):
        file.write(MAGIC)
        file.write(digest + b"\n")
        file.write(payload)

    atomic_write(path, write)
    # older checkpoints, and temporary files a killed writer of this run left behind
    leftovers = glob.glob(os.path.join(glob.escape(directory), f".tmp-*{glob.escape(name)}.*.ckpt"))
    for old in checkpoint_paths(directory, name)[:-keep] + leftovers:
        try:
            os.remove(old)
        except FileNotFoundError:  # removed meanwhile
            pass
    return path


def read_checkpoint(path):
    """The state stored in checkpoint ``path``; ``ValueError`` if it is truncated or corrupted."""
    with open(path, "rb") as file:
        content = file.read()
    header = len(MAGIC) + _DIGEST_LENGTH + 1
    if not content.startswith(MAGIC) or len(content) < header:
        raise ValueError(f"{path} is not a hessianlearn checkpoint (or is truncated).")
    digest = content[len(MAGIC):header - 1]
    payload = content[header:]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise ValueError(f"{path} is truncated or corrupted (its checksum does not match).")
    return pickle.loads(payload)


def newest_checkpoint(directory, name):
    """``(path, state)`` of the newest readable checkpoint of run ``name``.

    Unreadable files (truncated, corrupted) are skipped with a ``RuntimeWarning``
    naming them, falling back to the previous one.

    Raises
    ------
    FileNotFoundError
        No readable checkpoint of the run in ``directory``.
    """
    paths = checkpoint_paths(directory, name)
    for path in reversed(paths):
        try:
            return path, read_checkpoint(path)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError, AttributeError,
                ImportError, IndexError, TypeError) as error:
            warnings.warn(f"Skipping unreadable checkpoint {path}: {error}", RuntimeWarning,
                          stacklevel=2)
    unreadable = f" ({len(paths)} found, none readable)" if paths else ""
    raise FileNotFoundError(
        f"No readable checkpoint of run {name!r} in folder {os.path.abspath(directory)}{unreadable}; "
        "fit with settings['checkpoint_frequency'] set (and the same settings) to write one, or "
        "call fit() without resume=True."
    )


def remove_checkpoints(directory, name):
    """Remove every checkpoint of run ``name`` (a new, non-resumed fit starts clean)."""
    for path in checkpoint_paths(directory, name):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def fingerprint_differences(saved, current):
    """Lines ``key: checkpoint X, now Y`` for every entry that differs (empty if none)."""
    lines = []
    for key in sorted(set(saved) | set(current), key=str):
        a, b = saved.get(key, "<missing>"), current.get(key, "<missing>")
        if a != b:
            lines.append(f"{key}: checkpoint {a}, now {b}")
    return lines
