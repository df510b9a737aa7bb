"""Tiny seeded models and problem cases shared by the tests.

Model factories take a ``dtype`` ('float64' or 'float32', passed to every layer so
they do not depend on Keras' floatx) and a ``seed``; architectures are a dense MLP
(tanh/softplus) and a small CNN (conv2d + softplus + dense). :func:`make_case` builds
a problem of any family on either architecture, with seeded data in a feed dict.
"""
from collections import namedtuple

import numpy as np

from hessianlearn import keras, tf
from hessianlearn.problem.autoencoder_problem import AutoencoderProblem
from hessianlearn.problem.classification_problem import ClassificationProblem
from hessianlearn.problem.generative_adversarial_network_problem import GenerativeAdversarialNetworkProblem
from hessianlearn.problem.h1_regression_problem import H1RegressionProblem
from hessianlearn.problem.keras_model_problem import KerasModelProblem
from hessianlearn.problem.regression_problem import RegressionProblem
from hessianlearn.problem.variational_autoencoder_problem import VariationalAutoencoderProblem

__all__ = ["mlp", "cnn", "ARCHITECTURES", "PROBLEM_KINDS", "Case", "make_case", "make_session",
           "player_mask", "explicit_hessian", "finite_difference_hessian"]

layers = keras.layers

IMAGE_SHAPE = (4, 4, 1)
VECTOR_SHAPE = (3,)


def _dense(units, activation, seed, dtype, name=None):
    return layers.Dense(
        units, activation=activation, dtype=dtype, name=name,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.2, seed=seed + 1000))


def _conv(filters, activation, seed, dtype):
    return layers.Conv2D(
        filters, 3, activation=activation, dtype=dtype,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.2, seed=seed + 1000))


def _head(h, output_shape, output_activation, seed, dtype):
    units = int(np.prod(output_shape))
    y = _dense(units, output_activation, seed, dtype)(h)
    if len(output_shape) > 1:
        y = layers.Reshape(output_shape, dtype=dtype)(y)
    return y


def mlp(dtype="float64", input_shape=VECTOR_SHAPE, output_shape=(2,), hidden=4, activation="tanh",
        output_activation=None, seed=0):
    """Dense ``input -> hidden (activation) -> output``; inputs of rank > 1 are flattened."""
    x = keras.Input(input_shape, dtype=dtype)
    h = layers.Flatten(dtype=dtype)(x) if len(input_shape) > 1 else x
    h = _dense(hidden, activation, seed, dtype)(h)
    return keras.Model(x, _head(h, output_shape, output_activation, seed + 1, dtype))


def cnn(dtype="float64", input_shape=IMAGE_SHAPE, output_shape=(2,), filters=2, activation="softplus",
        output_activation=None, seed=0):
    """``conv2d 3x3 (activation) -> flatten -> dense``."""
    x = keras.Input(input_shape, dtype=dtype)
    h = layers.Flatten(dtype=dtype)(_conv(filters, activation, seed, dtype)(x))
    return keras.Model(x, _head(h, output_shape, output_activation, seed + 1, dtype))


ARCHITECTURES = {"mlp": (mlp, VECTOR_SHAPE), "cnn": (cnn, IMAGE_SHAPE)}

PROBLEM_KINDS = ("regression", "classification_cross_entropy", "classification_least_squares",
                 "classification_mixed", "autoencoder", "vae_least_squares", "vae_cross_entropy",
                 "gan_cross_entropy", "gan_least_squares", "h1", "keras_model")

Case = namedtuple("Case", ["problem", "feed_dict"])

BATCH = 5


def _encoder(arch, dtype, seed, x):
    if arch == "mlp":
        return _dense(4, "tanh", seed, dtype)(x)
    return layers.Flatten(dtype=dtype)(_conv(2, "softplus", seed, dtype)(x))


def _vae(arch, dtype, loss_type, seed, block):
    shape = ARCHITECTURES[arch][1]
    x = keras.Input(shape, dtype=dtype)
    eps = keras.Input((2,), dtype=dtype)
    h = _encoder(arch, dtype, seed, x)
    z_mean = _dense(2, None, seed + 1, dtype)(h)
    z_log_var = _dense(2, None, seed + 2, dtype)(h)
    z = layers.Lambda(lambda t: t[0] + tf.exp(0.5 * t[1]) * t[2], dtype=dtype)([z_mean, z_log_var, eps])
    h = _dense(3, "tanh", seed + 3, dtype)(z)
    out_act = "sigmoid" if loss_type == "cross_entropy" else None
    y = _head(h, shape, out_act, seed + 4, dtype)
    model = keras.Model([x, eps], y)
    return VariationalAutoencoderProblem(model, z_mean, z_log_var, loss_type=loss_type,
                                            hessian_block_size=block)


def _gan(arch, dtype, loss_type, seed, block):
    shape = ARCHITECTURES[arch][1]
    z = keras.Input((2,), dtype=dtype)
    g = _dense(3, "tanh", seed, dtype)(z)
    generator = keras.Model(z, _head(g, shape, None, seed + 1, dtype))
    x = keras.Input(shape, dtype=dtype)
    h = _encoder(arch, dtype, seed + 2, x)
    discriminator = keras.Model(x, _dense(1, None, seed + 3, dtype)(h))
    return GenerativeAdversarialNetworkProblem(generator, discriminator, loss_type=loss_type,
                                                  hessian_block_size=block)


def _keras_two_by_two(arch, dtype, seed, block):
    shape = ARCHITECTURES[arch][1]
    a = keras.Input(shape, dtype=dtype, name="a")
    b = keras.Input((2,), dtype=dtype, name="b")
    h = layers.Concatenate(dtype=dtype)([_encoder(arch, dtype, seed, a), b])
    h = _dense(3, "softplus", seed + 1, dtype)(h)
    o1 = _dense(2, None, seed + 2, dtype, name="o1")(h)
    o2 = _dense(3, None, seed + 3, dtype, name="o2")(h)
    model = keras.Model([a, b], [o1, o2])
    model.compile(loss={"o1": "mse", "o2": keras.losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"o1": 1.0, "o2": 0.5}, metrics={"o1": ["mae"], "o2": ["accuracy"]})
    return KerasModelProblem(model, hessian_block_size=block)


def _one_hot(rng, n, c, dtype):
    return np.eye(c, dtype=dtype)[rng.integers(0, c, n)]


def make_case(kind, arch="mlp", dtype="float64", hessian_block_size=None, seed=0):
    """Build a problem of family ``kind`` on architecture ``arch`` and a seeded data batch.

    The data depend on ``seed`` only (not on ``dtype``), so float32 and float64 cases
    see the same batch up to rounding.
    """
    factory, in_shape = ARCHITECTURES[arch]
    rng = np.random.default_rng(seed + 100)
    data = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    block = hessian_block_size
    n = BATCH
    if kind == "regression":
        p = RegressionProblem(factory(dtype, seed=seed), hessian_block_size=block)
        feed = {p.x: data(n, *in_shape), p.y_true: data(n, 2)}
    elif kind.startswith("classification_"):
        model = factory(dtype, output_shape=(3,), activation="softplus", seed=seed)
        p = ClassificationProblem(model, loss_type=kind.split("_", 1)[1], hessian_block_size=block)
        feed = {p.x: data(n, *in_shape), p.y_true: _one_hot(rng, n, 3, dtype)}
    elif kind == "autoencoder":
        p = AutoencoderProblem(factory(dtype, output_shape=in_shape, seed=seed), hessian_block_size=block)
        feed = {p.x: data(n, *in_shape)}
    elif kind.startswith("vae_"):
        loss_type = kind.split("_", 1)[1]
        p = _vae(arch, dtype, loss_type, seed, block)
        x = rng.uniform(0.05, 0.95, (n,) + in_shape).astype(dtype) if loss_type == "cross_entropy" \
            else data(n, *in_shape)
        feed = {p.x: x, p.epsilon: data(n, 2)}
    elif kind.startswith("gan_"):
        p = _gan(arch, dtype, kind.split("_", 1)[1], seed, block)
        feed = {p.x: data(n, *in_shape), p.noise: data(n, 2)}
    elif kind == "h1":
        r = 2
        d_in = int(np.prod(in_shape))
        basis = np.linalg.qr(np.random.default_rng(seed + 7).standard_normal((d_in, r)))[0]
        p = H1RegressionProblem(factory(dtype, seed=seed), basis, h1_weight=0.7, hessian_block_size=block)
        feed = {p.x: data(n, *in_shape), p.y_true: data(n, 2), p.dy_true: data(n, 2, r)}
    elif kind == "keras_model":
        p = _keras_two_by_two(arch, dtype, seed, block)
        a, b = p.x
        y1, y2 = p.y_true
        feed = {a: data(n, *in_shape), b: data(n, 2), y1: data(n, 2), y2: _one_hot(rng, n, 3, dtype)}
    else:
        raise ValueError(f"unknown case kind {kind!r}")
    return Case(p, feed)


def make_session(problem):
    """A session on the problem's graph with all variables initialized."""
    graph = problem._graph
    with graph.as_default():
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    return sess


def player_mask(problem):
    """``(n, n)`` boolean mask of the blocks the Hessian acts with (all True unless a game)."""
    n = problem.dimension
    mask = np.zeros((n, n), dtype=bool)
    for _, ids in problem._objectives():
        flat = np.zeros(n, dtype=bool)
        for i in ids:
            a, b = problem.indices[i]
            flat[a:b] = True
        mask |= np.outer(flat, flat)
    return mask


def explicit_hessian(problem, sess, feed_dict):
    """The dense Hessian, one ``Hdw`` evaluation per unit vector."""
    n = problem.dimension
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n, dtype=problem.dtype.as_numpy_dtype)
        e[i] = 1.0
        H[:, i] = sess.run(problem.Hdw, {**feed_dict, problem.dw: e})
    return H


def finite_difference_hessian(problem, sess, feed_dict, h=1e-5):
    """Central differences of ``gradient``, restricted to the players' blocks (see player_mask)."""
    w0 = problem.get_weights(sess)
    n = problem.dimension
    J = np.empty((n, n))
    try:
        for i in range(n):
            step = np.zeros(n)
            step[i] = h
            problem.set_weights(sess, w0 + step)
            g_plus = sess.run(problem.gradient, feed_dict)
            problem.set_weights(sess, w0 - step)
            g_minus = sess.run(problem.gradient, feed_dict)
            J[:, i] = (g_plus - g_minus) / (2 * h)
    finally:
        problem.set_weights(sess, w0)
    return np.where(player_mask(problem), J, 0.0)
