"""Every private-TensorFlow shortcut (hessianlearn._internals) forced onto its public fallback
gives the same numbers: gradients, Hessian products and blocks, products at a captured point,
the Gauss-Newton products, session runs and a whole fit."""
import contextlib

import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn import _internals
from hessianlearn._internals import SHORTCUTS, enabled, public_fallbacks
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.problem import ClassificationProblem, GaussNewton, Hessian
from hessianlearn.problem.regularization import L2Regularization
from hessianlearn.utilities import session_callables
from cases import explicit_hessian, make_session
from test_model import QUIET, classifier


def _relu_pool_tanh_classifier(seed):
    """conv (relu) -> max pool -> dense (tanh) -> dense, softmax cross-entropy, float64: it goes
    through every shortcut (forward overrides of Relu->MaxPool and of the cross-entropy, shared
    argmax and tanh factors, bias folding). dimension 41."""
    init = dict(kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                bias_initializer=keras.initializers.RandomNormal(stddev=0.2, seed=seed + 1))
    model = keras.Sequential([
        keras.layers.Conv2D(2, 3, activation="relu", input_shape=(4, 4, 1), dtype="float64", **init),
        keras.layers.MaxPooling2D(2, dtype="float64"),
        keras.layers.Flatten(dtype="float64"),
        keras.layers.Dense(3, activation="tanh", dtype="float64", **init),
        keras.layers.Dense(3, dtype="float64", **init),
    ])
    problem = ClassificationProblem(model, loss_type="cross_entropy", hessian_block_size=4)
    rng = np.random.default_rng(seed)
    feed = {problem.x: rng.standard_normal((6, 4, 4, 1)), problem.y_true: np.eye(3)[rng.integers(0, 3, 6)]}
    return problem, feed


def _products(fallback):
    """Gradient, H x, H X (static block), H X at a captured point, GN X and the dense H."""
    tf.reset_default_graph()
    keras.backend.clear_session()
    with public_fallbacks() if fallback else contextlib.nullcontext():
        problem, feed = _relu_pool_tanh_classifier(seed=3)
        sess = make_session(problem)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((problem.dimension, 4))
        H = Hessian(problem, sess, block_size=4)
        out = {"gradient": session_callables.run(sess, problem.gradient, feed),
               "Hx": H(X[:, 0], feed), "HX": H(X, feed),
               "HX at point": H.at_point(feed)(X),
               "GN X": GaussNewton(problem, sess)(X, feed),
               "H": explicit_hessian(problem, sess, feed)}
        graph_ops = {op.type for op in problem._graph.get_operations()}
        sess.close()
    return out, graph_ops


def test_public_fallbacks_switch_every_shortcut_and_restore_them():
    assert all(enabled(name) for name in SHORTCUTS)
    with public_fallbacks():
        assert not any(enabled(name) for name in SHORTCUTS)
        assert _internals.session_internals() is None
        assert _internals.registered_gradient(tf.constant(1.0).op) is None
        assert _internals.control_flow_context(tf.get_default_graph()) is _internals.UNKNOWN
        op = tf.constant(2.0).op
        assert _internals.set_gradient_function(op, lambda op, g: g) is _internals.UNKNOWN
        zeros = tf.constant(0.0)
        zeros._is_zeros_tensor = True  # what tf.gradients marks its filled-in zeros with
        assert not _internals.marked_zeros(zeros)
        from tensorflow.python.ops.parallel_for import pfor
        stock = pfor._pfor_converter_registry["MatMul"]
        with _internals.broadcast_matmul_rule():
            assert pfor._pfor_converter_registry["MatMul"] is stock  # the fallback: TF's rule
    with _internals.broadcast_matmul_rule():
        assert pfor._pfor_converter_registry["MatMul"] is not stock
    assert pfor._pfor_converter_registry["MatMul"] is stock
    assert _internals.marked_zeros(zeros)
    assert all(enabled(name) for name in SHORTCUTS)
    with public_fallbacks("session_run"):
        assert not enabled("session_run") and enabled("gradient_function")
    with pytest.raises(ValueError, match="unknown shortcut 'nope'"):
        with public_fallbacks("nope"):
            pass
    assert all(enabled(name) for name in SHORTCUTS)


@pytest.mark.slow
def test_products_on_the_fallback_graph_equal_the_shortcut_graph():
    fast, fast_ops = _products(fallback=False)
    slow, slow_ops = _products(fallback=True)
    assert fast_ops != slow_ops  # the fallback really built another graph
    for key in fast:
        scale = np.linalg.norm(fast[key])
        assert scale > 0
        assert np.linalg.norm(slow[key] - fast[key]) <= 1e-12 * scale, key
    H = fast["H"]
    assert np.linalg.norm(H - H.T) <= 1e-12 * np.linalg.norm(H)
    np.testing.assert_allclose(fast["HX"], H @ np.random.default_rng(0).standard_normal((41, 4)),
                               rtol=1e-10, atol=1e-12)


def test_session_run_fallback_gives_identical_results():
    x = tf.placeholder(tf.float64, [None, 2])
    y = {"sum": tf.reduce_sum(x), "both": [x * 2.0, tf.reduce_max(x)]}
    with tf.Session() as sess:
        feed = {x: np.arange(6.0).reshape(3, 2)}
        fast = session_callables.run(sess, y, feed)
        assert len(sess._hessianlearn_callables) == 1  # the shortcut was taken
        with public_fallbacks("session_run"):
            slow = session_callables.run(sess, y, feed)
        for a, b in zip(tf.nest.flatten(fast), tf.nest.flatten(slow)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", ["adam", "lrsfn"])
def test_fit_with_every_fallback_gives_the_same_iterates(float64, optimizer):
    weights, losses = [], []
    for fallback in (False, True):
        tf.reset_default_graph()
        keras.backend.clear_session()
        keras.backend.set_floatx("float64")
        with public_fallbacks() if fallback else contextlib.nullcontext():
            problem, data = classifier()
            settings = dict(QUIET, optimizer=optimizer, alpha=1e-2 if optimizer == "adam" else 5e-2,
                            hessian_low_rank=5, max_sweeps=3)
            model = HessianlearnModel(problem, L2Regularization(problem, gamma=1e-3), data, settings=settings)
            model.fit()
            weights.append(problem.get_weights(model.sess))
            losses.append(np.array(list(model.logger["train_loss"].values())))
            model.close()
    assert len(losses[0]) > 2
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-10)
    np.testing.assert_allclose(weights[1], weights[0], rtol=1e-9, atol=1e-12)
