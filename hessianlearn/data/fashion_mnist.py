"""Offline Fashion-MNIST loading from the Debian package ``dataset-fashion-mnist``.

The package installs the four idx files of the original distribution, gzipped,
under ``/usr/share/datasets/fashion-mnist/``; they have the MNIST layout
(28 x 28 uint8 images, labels 0..9), so the idx reader of
:mod:`hessianlearn.data.mnist` reads them.
"""
import os

from . import mnist as _mnist

__all__ = ["FASHION_MNIST_FOLDER", "FASHION_MNIST_CLASSES", "load_fashion_mnist"]

#: Where the Debian package ``dataset-fashion-mnist`` puts the idx files.
FASHION_MNIST_FOLDER = "/usr/share/datasets/fashion-mnist"
#: Class names of the labels 0..9.
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")

_INSTALL_HINT = "apt-get install dataset-fashion-mnist"


def load_fashion_mnist(path=None):
    """Load Fashion-MNIST as uint8 arrays, without network access.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A folder with ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each
        possibly ``.gz``). Default :data:`FASHION_MNIST_FOLDER`.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of tuples of numpy.ndarray
        uint8 images ``(n, 28, 28)`` (0..255) and uint8 labels ``(n,)`` in
        0..9 (:data:`FASHION_MNIST_CLASSES`); 60000 and 10000 images for the
        package's files.

    Raises
    ------
    FileNotFoundError
        The folder or one of its idx files is missing; without ``path`` the
        message names the Debian package to install.
    ValueError
        A file has a wrong magic number, size or label.
    """
    folder = FASHION_MNIST_FOLDER if path is None else os.fspath(path)
    if not os.path.isdir(folder):
        if path is None:
            raise FileNotFoundError(
                f"load_fashion_mnist: {folder!r} does not exist; install the Debian package "
                f"dataset-fashion-mnist (`{_INSTALL_HINT}`) or pass path= to a folder with the four "
                "Fashion-MNIST idx files.")
        raise FileNotFoundError(
            f"load_fashion_mnist: {folder!r} is not a folder; pass a folder with the four Fashion-MNIST "
            f"idx files (the Debian package dataset-fashion-mnist installs them in {FASHION_MNIST_FOLDER!r}).")
    try:
        arrays = _mnist._load_idx_directory(folder)
    except (FileNotFoundError, ValueError) as error:
        message = str(error).replace("load_mnist:", "load_fashion_mnist:").replace("MNIST", "Fashion-MNIST")
        if path is None:
            message += f" Reinstall the Debian package dataset-fashion-mnist (`{_INSTALL_HINT}`)."
        raise type(error)(message) from error
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
