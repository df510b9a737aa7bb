"""Benchmark workloads: functions that build a problem, its data and suggested settings.

Each workload function builds its network in the current default graph (the
caller resets the graph and seeds it first, as
:func:`~hessianlearn.lab.comparison.compare_optimizers` does for every run) and
returns a :class:`Workload`. :data:`WORKLOADS` maps the names the comparison
harness accepts to these functions; :func:`build_workload` checks the name.
"""
import os
from dataclasses import dataclass, field

import numpy as np

from .._tf import keras, tf
from ..data.cifar import load_cifar
from ..data.data import Data
from ..data.fashion_mnist import load_fashion_mnist
from ..data.mnist import load_mnist, one_hot
from ..problem.autoencoder_problem import AutoencoderProblem
from ..problem.classification_problem import ClassificationProblem
from ..problem.regularization import L2Regularization

__all__ = ["Workload", "WORKLOADS", "workload_names", "build_workload", "mnist_autoencoder",
           "mnist_conv_autoencoder", "fashion_mnist_cnn", "cifar_transfer"]


@dataclass
class Workload:
    """A problem ready for :class:`~hessianlearn.model.model.HessianlearnModel`.

    Attributes
    ----------
    name : str
    problem, regularization, data
        Problem, its regularization and the seeded :class:`~hessianlearn.data.data.Data`.
    settings : dict
        Suggested model settings for every optimizer (budget, rank, ...).
    optimizer_settings : dict
        Optimizer name -> settings suggested for it on this workload (step lengths,
        and optimizer parameters such as K-FAC's ``inverse_frequency``); applied
        over ``settings``.
    has_accuracy : bool
        Whether validation accuracy is defined (classification).
    """

    name: str
    problem: object
    regularization: object
    data: object
    settings: dict = field(default_factory=dict)
    optimizer_settings: dict = field(default_factory=dict)
    has_accuracy: bool = False

    def settings_for(self, optimizer):
        """Suggested settings for ``optimizer``: ``settings`` updated with its ``optimizer_settings``."""
        return {**self.settings, **self.optimizer_settings.get(optimizer, {})}


def _slice(x, y, size, option, available_name):
    if size is None:
        return x, y
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{option} must be a positive int or None, got {size!r}.")
    if size > len(x):
        raise ValueError(f"{option} = {size} is larger than the {len(x)} {available_name} available.")
    return x[:size], y[:size]


def _images(x, flat):
    x = np.asarray(x, dtype=np.float32) / np.float32(255.0)
    return x.reshape(len(x), -1) if flat else x.reshape(x.shape + (1,) if x.ndim == 3 else x.shape)


#: (loader name, path) -> the loader's arrays, so that a comparison reads its data set once.
_LOADED = {}


def _load_once(loader, path):
    key = (loader.__name__, None if path is None else os.path.abspath(os.fspath(path)))
    if key not in _LOADED:
        _LOADED.clear()  # keep one data set in memory
        _LOADED[key] = loader(path)
    return _LOADED[key]


def _mnist_arrays(loader, path, train_size, validation_size, flat):
    (x_train, y_train), (x_test, y_test) = _load_once(loader, path)
    x_train, y_train = _slice(x_train, y_train, train_size, "train_size", "training images")
    x_test, y_test = _slice(x_test, y_test, validation_size, "validation_size", "test images")
    return _images(x_train, flat), y_train, _images(x_test, flat), y_test


def _check_batch(value, option, n, allow_none=False):
    if value is None and allow_none:
        return n
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= n:
        raise ValueError(f"{option} must be an int between 1 and the {n} training samples, got {value!r}.")
    return int(value)


#: Step lengths of Tutorial 0 and the MNIST applications, per optimizer.
_AUTOENCODER_ALPHAS = {"lrsfn": {"alpha": 5e-2}, "incg": {"alpha": 1e-1}, "ingmres": {"alpha": 1e-1},
                       "inminres": {"alpha": 1e-1}, "adam": {"alpha": 1e-3}, "gd": {"alpha": 1e-1},
                       "sgd": {"alpha": 1e-1}, "adahessian": {"alpha": 0.15}, "sophia": {"alpha": 1e-3},
                       "lbfgs": {"alpha": 1.0}, "hessian_free": {"alpha": 1.0},
                       "kfac": {"alpha": 1.0, "inverse_frequency": 20}}


def mnist_autoencoder(seed=0, train_size=None, validation_size=None, batch_size=32, hessian_batch_size=8,
                      encoding_dimension=32, gamma=0.0, mnist_path=None, comm=None):
    """Tutorial 0's dense MNIST autoencoder: 784-``encoding_dimension`` (softplus)-784 (sigmoid), MSE.

    Glorot-uniform weights seeded by ``seed``; the 60 000 training images (or the
    first ``train_size``) are trained on, the 10 000 test images (or the first
    ``validation_size``) validate. Batches of ``batch_size`` for the gradient and
    ``hessian_batch_size`` for the Hessian, L2 weight ``gamma`` (0: LRSFN's default
    damping 1e-3). Suggested settings: LRSFN rank 40 and the fixed steps of
    Tutorial 0 (``alpha`` 5e-2 for LRSFN, 1e-3 for Adam).
    """
    x_train, _, x_test, _ = _mnist_arrays(load_mnist, mnist_path, train_size, validation_size, flat=True)
    batch_size = _check_batch(batch_size, "batch_size", len(x_train))
    hessian_batch_size = _check_batch(hessian_batch_size, "hessian_batch_size", len(x_train))
    initializer = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input(shape=(784,), name="image")
    code = keras.layers.Dense(encoding_dimension, activation="softplus", kernel_initializer=initializer,
                              name="encoder")(inputs)
    outputs = keras.layers.Dense(784, activation="sigmoid", kernel_initializer=initializer, name="decoder")(code)
    problem = AutoencoderProblem(keras.Model(inputs, outputs), dtype=tf.float32)
    data = Data({problem.x: x_train}, batch_size, validation_data={problem.x: x_test},
                hessian_batch_size=hessian_batch_size, seed=seed, comm=comm)
    return Workload("mnist_autoencoder", problem, L2Regularization(problem, gamma=gamma), data,
                    settings={"hessian_low_rank": min(40, problem.dimension)},
                    optimizer_settings={k: dict(v) for k, v in _AUTOENCODER_ALPHAS.items()})


def mnist_conv_autoencoder(seed=0, train_size=10000, validation_size=None, batch_size=None,
                           hessian_batch_size=1000, filters=(4, 4), kernel_sizes=(8, 4), gamma=0.1,
                           weight_seed=0, mnist_path=None, comm=None):
    """The convolutional MNIST autoencoder of arXiv:1905.06738 (low-rank saddle-free Newton).

    Encoder: ``Conv2D(filters[k], kernel_sizes[k], 'same', softplus)`` for each k;
    decoder: the transposed convolutions in reverse order, the last one to one
    channel with a sigmoid; MSE per pixel. Initial weights are standard normal
    (``RandomNormal(0, 1)``) seeded by ``weight_seed`` (0 as in the paper; None: use
    ``seed``). ``train_size`` training images (10 000), the whole training set as
    gradient batch (``batch_size=None``), Hessian batch 1 000, L2 weight
    ``gamma`` 0.1. Suggested settings: rank 20, Armijo line search.
    """
    if len(filters) != len(kernel_sizes) or not filters:
        raise ValueError(f"filters {filters!r} and kernel_sizes {kernel_sizes!r} must be non-empty and "
                         "of the same length.")
    x_train, _, x_test, _ = _mnist_arrays(load_mnist, mnist_path, train_size, validation_size, flat=False)
    batch_size = _check_batch(batch_size, "batch_size", len(x_train), allow_none=True)
    hessian_batch_size = _check_batch(hessian_batch_size, "hessian_batch_size", len(x_train))
    initializer = keras.initializers.RandomNormal(0.0, 1.0, seed=seed if weight_seed is None else weight_seed)
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    h = inputs
    for k, (n, size) in enumerate(zip(filters, kernel_sizes)):
        h = keras.layers.Conv2D(n, size, padding="same", activation="softplus", kernel_initializer=initializer,
                                bias_initializer=initializer, name=f"encoder_{k}")(h)
    decoder = list(zip(list(filters[:-1])[::-1] + [1], list(kernel_sizes)[::-1]))
    for k, (n, size) in enumerate(decoder):
        last = k == len(decoder) - 1
        h = keras.layers.Conv2DTranspose(n, size, padding="same", activation="sigmoid" if last else "softplus",
                                         kernel_initializer=initializer, bias_initializer=initializer,
                                         name=f"decoder_{k}")(h)
    problem = AutoencoderProblem(keras.Model(inputs, h), dtype=tf.float32)
    data = Data({problem.x: x_train}, batch_size, validation_data={problem.x: x_test},
                hessian_batch_size=hessian_batch_size, seed=seed, comm=comm)
    return Workload("mnist_conv_autoencoder", problem, L2Regularization(problem, gamma=gamma), data,
                    settings={"hessian_low_rank": min(20, problem.dimension), "globalization": "line_search"},
                    optimizer_settings={"adam": {"alpha": 1e-2, "globalization": None},
                                        "sgd": {"alpha": 1e-2, "globalization": None},
                                        "gd": {"alpha": 1.0}, "lrsfn": {"alpha": 1.0}, "incg": {"alpha": 1.0},
                                        "adahessian": {"alpha": 0.15, "globalization": None},
                                        "sophia": {"alpha": 1e-2, "globalization": None},
                                        "lbfgs": {"alpha": 1.0}, "hessian_free": {"alpha": 1.0},
                                        "kfac": {"alpha": 1.0}})


def fashion_mnist_cnn(seed=0, train_size=None, validation_size=None, batch_size=128, hessian_batch_size=32,
                      filters=(8, 16), dense=32, gamma=0.0, fashion_mnist_path=None, comm=None):
    """A small CNN classifier on Fashion-MNIST (Debian package ``dataset-fashion-mnist``).

    ``Conv2D(filters[0], 3, relu)``, 2x2 max-pool, ``Conv2D(filters[1], 3, relu)``,
    2x2 max-pool, ``Dense(dense, softplus)``, 10 logits; softmax cross-entropy;
    Glorot-uniform weights seeded by ``seed``. Trains on the 60 000 training images
    (or the first ``train_size``) and validates on the 10 000 test images (or the
    first ``validation_size``); :func:`~hessianlearn.data.fashion_mnist.load_fashion_mnist`
    reads ``fashion_mnist_path`` (default: the Debian package's folder).
    """
    x_train, y_train, x_test, y_test = _mnist_arrays(load_fashion_mnist, fashion_mnist_path, train_size,
                                                     validation_size, flat=False)
    batch_size = _check_batch(batch_size, "batch_size", len(x_train))
    hessian_batch_size = _check_batch(hessian_batch_size, "hessian_batch_size", len(x_train))
    initializer = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    h = inputs
    for k, n in enumerate(filters):
        h = keras.layers.Conv2D(n, 3, activation="relu", kernel_initializer=initializer, name=f"conv_{k}")(h)
        h = keras.layers.MaxPooling2D(2, name=f"pool_{k}")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(dense, activation="softplus", kernel_initializer=initializer, name="hidden")(h)
    logits = keras.layers.Dense(10, kernel_initializer=initializer, name="logits")(h)
    problem = ClassificationProblem(keras.Model(inputs, logits), dtype=tf.float32)
    data = Data({problem.x: x_train, problem.y_true: one_hot(y_train, 10)}, batch_size,
                validation_data={problem.x: x_test, problem.y_true: one_hot(y_test, 10)},
                hessian_batch_size=hessian_batch_size, seed=seed, comm=comm)
    return Workload("fashion_mnist_cnn", problem, L2Regularization(problem, gamma=gamma), data,
                    settings={"hessian_low_rank": min(20, problem.dimension), "default_damping": 1.0},
                    optimizer_settings={"lrsfn": {"alpha": 5e-2}, "incg": {"alpha": 5e-2},
                                        "adam": {"alpha": 1e-3}, "sgd": {"alpha": 5e-2}, "gd": {"alpha": 1.0}},
                    has_accuracy=True)


#: Backbones of :func:`cifar_transfer`: name -> (tf.keras.applications constructor, preprocess module).
_BACKBONES = {"ResNet50": ("ResNet50", "resnet50"), "MobileNetV2": ("MobileNetV2", "mobilenet_v2"),
              "VGG16": ("VGG16", "vgg16")}


def _backbone_weights(weights, backbone):
    if weights in (None, "none"):
        return None
    if weights == "imagenet":
        raise FileNotFoundError(
            f"cifar_transfer: weights='imagenet' would download the {backbone} ImageNet weights, and nothing "
            "is downloaded here; pass weights=PATH to a local copy of the Keras file (e.g. "
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5) or weights='none' for random weights.")
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"cifar_transfer: weights file {path!r} does not exist; pass weights=PATH to a "
                                f"local {backbone} (include_top=False) weights file, or weights='none'.")
    return path


def cifar_transfer(data_path=None, seed=0, classes=10, backbone="ResNet50", weights="none", train_size=None,
                   validation_size=2000, batch_size=32, hessian_batch_size=8, hidden=64, image_size=32,
                   gamma=0.0, comm=None):
    """Transfer learning on CIFAR-10/100: a frozen ``tf.keras.applications`` backbone and a dense head.

    The backbone (``backbone``, ResNet50 by default, ``include_top=False``, global
    average pooling) is frozen: its layers are not trainable, so the problem's
    weights are the head's ``Dense(hidden, relu)`` and ``Dense(classes)`` logits,
    trained with a softmax cross-entropy. Images are resized to ``image_size``
    and preprocessed as the backbone expects. ``weights``: ``'none'`` (random,
    seeded), a path to a local weights file; ``'imagenet'`` raises (nothing is
    downloaded). ``data_path``: the unpacked CIFAR python folder or an ``.npz``
    (:func:`~hessianlearn.data.cifar.load_cifar`). The first ``validation_size``
    test images validate.
    """
    if backbone not in _BACKBONES:
        raise ValueError(f"cifar_transfer: unknown backbone {backbone!r}; choose one of "
                         f"{', '.join(repr(b) for b in _BACKBONES)}.")
    if data_path is None:
        raise FileNotFoundError(
            f"cifar_transfer: pass data_path= (--data PATH) to the unpacked cifar-{classes}-python folder or an "
            ".npz with x_train, y_train, x_test, y_test; nothing is downloaded.")
    weights_file = _backbone_weights(weights, backbone)
    (x_train, y_train), (x_test, y_test) = load_cifar(data_path, classes)
    x_train, y_train = _slice(x_train, y_train, train_size, "train_size", "training images")
    x_test, y_test = _slice(x_test, y_test, validation_size, "validation_size", "test images")
    batch_size = _check_batch(batch_size, "batch_size", len(x_train))
    hessian_batch_size = _check_batch(hessian_batch_size, "hessian_batch_size", len(x_train))
    constructor, preprocess_module = _BACKBONES[backbone]
    applications = keras.applications
    preprocess = getattr(applications, preprocess_module).preprocess_input
    x_train = preprocess(x_train.astype(np.float32))
    x_test = preprocess(x_test.astype(np.float32))
    inputs = keras.Input(shape=(32, 32, 3), name="image")
    h = inputs
    if image_size != 32:
        h = keras.layers.Resizing(image_size, image_size, name="resize")(h)
    base = getattr(applications, constructor)(include_top=False, weights=weights_file, pooling="avg",
                                              input_shape=(image_size, image_size, 3))
    base.trainable = False
    h = base(h, training=False)
    initializer = keras.initializers.GlorotUniform(seed=seed)
    h = keras.layers.Dense(hidden, activation="relu", kernel_initializer=initializer, name="head_hidden")(h)
    logits = keras.layers.Dense(classes, kernel_initializer=initializer, name="head_logits")(h)
    problem = ClassificationProblem(keras.Model(inputs, logits), dtype=tf.float32)
    data = Data({problem.x: x_train, problem.y_true: one_hot(y_train, classes)}, batch_size,
                validation_data={problem.x: x_test, problem.y_true: one_hot(y_test, classes)},
                hessian_batch_size=hessian_batch_size, seed=seed, comm=comm)
    return Workload(f"cifar{classes}_transfer", problem, L2Regularization(problem, gamma=gamma), data,
                    settings={"hessian_low_rank": min(40, problem.dimension), "default_damping": 1.0},
                    optimizer_settings={"lrsfn": {"alpha": 1e-2}, "adam": {"alpha": 1e-3},
                                        "sgd": {"alpha": 1e-2}},
                    has_accuracy=True)


#: Workload name -> function.
WORKLOADS = {"mnist_autoencoder": mnist_autoencoder, "mnist_conv_autoencoder": mnist_conv_autoencoder,
             "fashion_mnist_cnn": fashion_mnist_cnn, "cifar_transfer": cifar_transfer}


def workload_names():
    """The names :func:`build_workload` accepts."""
    return tuple(WORKLOADS)


def build_workload(name, seed=0, **options):
    """Build the workload ``name`` in the current graph; ``options`` go to its function.

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid ones).
    TypeError
        An option the workload function does not take.
    """
    if name not in WORKLOADS:
        raise ValueError(f"Unknown workload {name!r}; choose one of {', '.join(repr(n) for n in WORKLOADS)}.")
    return WORKLOADS[name](seed=seed, **options)
