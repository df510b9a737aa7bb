"""Offline CIFAR-10 / CIFAR-100 loading from local files (never downloads).

:func:`load_cifar` reads either the "python version" batches of the original
distribution (a folder, as unpacked from ``cifar-10-python.tar.gz`` or
``cifar-100-python.tar.gz``) or an ``.npz`` archive with ``x_train``,
``y_train``, ``x_test`` and ``y_test``. The pickled batches are read with an
unpickler that only rebuilds numpy arrays and builtin containers.
"""
import os
import pickle
import zipfile

import numpy as np

__all__ = ["load_cifar"]

_CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler for the CIFAR batches: numpy arrays and builtin containers only."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "list"), ("builtins", "dict")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"load_cifar: unexpected object {module}.{name} in a CIFAR batch.")
        if module.startswith("numpy") and name == "_reconstruct":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray"
        return super().find_class(module, name)


def _read_batch(filename, label_key):
    try:
        with open(filename, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as error:
        raise ValueError(f"load_cifar: cannot read {filename!r} as a CIFAR python batch ({error}).") from error
    batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise ValueError(f"load_cifar: {filename!r} lacks 'data' or {label_key!r}; is it a CIFAR python batch?")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key])
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise ValueError(f"load_cifar: {filename!r} holds data of shape {data.shape} and labels of shape "
                         f"{labels.shape}; expected (n, 3072) and (n,).")
    # rows are [1024 red, 1024 green, 1024 blue], each 32 x 32 row-major
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _load_batches(folder, classes):
    if classes == 10:
        label_key, train_names, test_name = "labels", _CIFAR10_TRAIN, "test_batch"
    else:
        label_key, train_names, test_name = "fine_labels", ("train",), "test"
    missing = [n for n in train_names + (test_name,) if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise FileNotFoundError(
            f"load_cifar: {folder!r} lacks {missing}; a CIFAR-{classes} python folder holds "
            f"{', '.join(train_names + (test_name,))} (unpack cifar-{classes}-python.tar.gz), or pass an .npz file.")
    parts = [_read_batch(os.path.join(folder, n), label_key) for n in train_names]
    x_test, y_test = _read_batch(os.path.join(folder, test_name), label_key)
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _load_npz(filename):
    try:
        with np.load(filename, allow_pickle=False) as npz:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in npz.files]
            if missing:
                raise ValueError(f"load_cifar: {filename!r} lacks the arrays {missing}; a CIFAR .npz holds "
                                 "x_train, y_train, x_test and y_test.")
            return {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, EOFError, zipfile.BadZipFile, AttributeError) as error:
        raise ValueError(f"load_cifar: cannot read {filename!r} as an .npz archive ({error}).") from error


def load_cifar(path, classes=10):
    """Load CIFAR-10 or CIFAR-100 from a local folder or ``.npz`` file.

    Parameters
    ----------
    path : str or os.PathLike
        A folder with the python batches (CIFAR-10: ``data_batch_1`` ..
        ``data_batch_5`` and ``test_batch``; CIFAR-100: ``train`` and ``test``,
        fine labels), or an ``.npz`` file with ``x_train``, ``y_train``,
        ``x_test``, ``y_test`` (images ``(n, 32, 32, 3)`` uint8, labels ``(n,)``
        or ``(n, 1)`` as Keras stores them).
    classes : {10, 100}
        Number of classes; labels are checked to lie in ``0 .. classes - 1``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of tuples of numpy.ndarray
        uint8 images ``(n, 32, 32, 3)`` and int64 labels ``(n,)``.

    Raises
    ------
    FileNotFoundError
        ``path`` (or a batch in it) does not exist; the message says what to pass.
    ValueError
        ``classes`` is not 10 or 100, or a file has the wrong layout or labels.
    """
    if classes not in (10, 100):
        raise ValueError(f"load_cifar: 'classes' must be 10 or 100, got {classes!r}.")
    if path is None:
        raise FileNotFoundError(
            f"load_cifar: nothing is downloaded; pass path= to the unpacked cifar-{classes}-python folder "
            "or to an .npz file with x_train, y_train, x_test, y_test.")
    path = os.fspath(path)
    if os.path.isdir(path):
        arrays = _load_batches(path, classes)
    elif os.path.isfile(path):
        arrays = _load_npz(path)
    else:
        raise FileNotFoundError(
            f"load_cifar: {path!r} does not exist; pass the unpacked cifar-{classes}-python folder or an .npz "
            "file with x_train, y_train, x_test, y_test (nothing is downloaded).")
    for kind in ("train", "test"):
        x, y = np.asarray(arrays["x_" + kind]), np.asarray(arrays["y_" + kind]).reshape(-1)
        if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or y.shape != (x.shape[0],):
            raise ValueError(f"load_cifar: x_{kind} has shape {x.shape} and y_{kind} {y.shape} in {path!r}; "
                             "expected (n, 32, 32, 3) images and n labels.")
        if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= classes):
            raise ValueError(f"load_cifar: y_{kind} in {path!r} holds labels outside 0..{classes - 1}; "
                             f"is it CIFAR-{classes}?")
        if x.dtype != np.uint8:
            if x.size and (x.min() < 0 or x.max() > 255):
                raise ValueError(f"load_cifar: x_{kind} in {path!r} is not 0..255 pixel data.")
            x = x.astype(np.uint8)
        arrays["x_" + kind], arrays["y_" + kind] = x, y.astype(np.int64)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
