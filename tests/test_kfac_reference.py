"""Our K-FAC against the reference implementation, the ``kfac`` package (tensorflow/kfac).

Both run on the same float64 3-4-2 network (``Dense(4)``, ``tanh``, ``Dense(2)``) and
batch of 5 samples, in the problem's graph and session, for a mean-squared-error
regression and a softmax cross-entropy classification.

Estimator: the deterministic one both offer. ``kfac`` with ``estimation_mode='exact'``
back-propagates every one-hot output direction through a factor of the per-sample
Fisher; ours with ``fisher='exact'`` feeds every unit output noise. For these losses
the Fisher of the predictive distribution equals the loss Hessian, so both give the
exact ``G = sum_i J_i^T H_i J_i`` of the batch-mean loss and the same
``A = (1/N) sum_i abar_i abar_i^T`` (bias entry last).

Scaling: ``kfac``'s squared-error loss is ``||y - z||^2`` averaged over the batch,
while ``RegressionProblem`` also averages over the ``m = 2`` outputs, so the loss is
registered with ``coeff = 1/m``; the softmax cross-entropy is the batch mean in both.
"""
import numpy as np
import pytest

from cases import make_session
from hessianlearn import keras, tf
from hessianlearn.algorithms.kfac import KFAC
from hessianlearn.problem.classification_problem import ClassificationProblem
from hessianlearn.problem.regression_problem import RegressionProblem

SAMPLES, OUTPUTS = 5, 2
DAMPING = 0.1


def _reference_case(kind):
    """``(problem, feed, sess, dense layers, kfac FisherEstimator, cov update ops, inverse ops)``."""
    import kfac  # here, so that a missing package fails these tests, not the suite's collection
    rng = np.random.default_rng(3)
    init = {"kernel_initializer": keras.initializers.GlorotNormal(seed=1),
            "bias_initializer": keras.initializers.RandomNormal(stddev=0.3, seed=2)}
    x_in = keras.Input((3,))
    hidden, output = keras.layers.Dense(4, **init), keras.layers.Dense(OUTPUTS, **init)
    z = output(keras.layers.Activation("tanh")(hidden(x_in)))
    if kind == "regression":
        problem = RegressionProblem(keras.Model(x_in, z))
        y = rng.standard_normal((SAMPLES, OUTPUTS))
    else:
        problem = ClassificationProblem(keras.Model(x_in, z), loss_type="cross_entropy")
        y = np.eye(OUTPUTS)[[0, 1, 1, 0, 1]]
    feed = {problem.x: rng.standard_normal((SAMPLES, 3)), problem.y_true: y}
    layers = [hidden, output]
    with problem._graph.as_default():
        collection = kfac.LayerCollection()
        for layer in layers:  # linear Dense: layer.output is the pre-activation
            collection.register_fully_connected((layer.kernel, layer.bias), layer.input,
                                                layer.output)
        if kind == "regression":
            collection.register_squared_error_loss(problem.y_prediction, coeff=1.0 / OUTPUTS)
        else:
            collection.register_softmax_cross_entropy_loss(problem.y_prediction)
        estimator = kfac.estimator.FisherEstimatorRoundRobin(
            variables=[w for layer in layers for w in (layer.kernel, layer.bias)],
            cov_ema_decay=0.0, layer_collection=collection, estimation_mode="exact",
            damping=tf.constant(DAMPING, tf.float64))  # a Python float would become float32
        cov_thunks, inv_thunks = estimator.make_vars_and_create_op_thunks()
        cov_ops = [thunk() for thunk in cov_thunks]
        inv_ops = [thunk() for thunk in inv_thunks]
    sess = make_session(problem)
    return problem, feed, sess, layers, estimator, cov_ops, inv_ops


@pytest.mark.parametrize("kind", ["regression", "cross_entropy"])
def test_kfac_factors_equal_the_reference_packages_exact_factors(float64, kind):
    problem, feed, sess, layers, estimator, cov_ops, _ = _reference_case(kind)
    sess.run(cov_ops, feed)  # one update of the zero-debiased moving average: the batch's factors
    blocks = estimator.blocks
    assert len(blocks) == len(layers)
    reference = sess.run([(b._input_factor.cov, b._output_factor.cov) for b in blocks])
    ours = KFAC(problem, sess=sess, parameters={"fisher": "exact"})
    assert [(l.rows, l.columns) for l in ours.layers] == [(4, 4), (5, OUTPUTS)]
    for (A, G), (A_ref, G_ref) in zip(ours.batch_factors(feed), reference):
        np.testing.assert_allclose(A, A_ref, rtol=1e-12, atol=1e-14 * np.abs(A_ref).max())
        np.testing.assert_allclose(G, G_ref, rtol=1e-10, atol=1e-13 * np.abs(G_ref).max())
        assert np.abs(G_ref).max() > 1e-3  # a nonzero factor: the comparison means something
    assert np.all(A[:, -1] == A[-1, :]) and A[-1, -1] == 1.0  # bias row and column last


@pytest.mark.parametrize("kind", ["regression", "cross_entropy"])
def test_kfac_damped_direction_equals_the_reference_packages_inverse_product(float64, kind):
    # both damp with factored Tikhonov: (A + pi lambda^(1/2) I) kron (G + lambda^(1/2) / pi I),
    # pi = ((tr A / dim A) / (tr G / dim G))^(1/2)
    problem, feed, sess, layers, estimator, cov_ops, inv_ops = _reference_case(kind)
    sess.run(cov_ops, feed)
    sess.run(inv_ops)
    ours = KFAC(problem, sess=sess, parameters={"fisher": "exact", "damping": DAMPING})
    ours._update_factors(feed)
    g = sess.run(problem.gradient, feed)
    delta = ours.precondition(g)
    pieces = []
    for layer, spec in zip(ours.layers, layers):
        Gbar = g[layer.block].reshape(layer.rows, layer.columns)
        pieces += [(tf.constant(Gbar[:-1]), spec.kernel), (tf.constant(Gbar[-1]), spec.bias)]
    with problem._graph.as_default():
        products = estimator.multiply_inverse(pieces)
    reference = sess.run([p for p, _ in products])
    for i, layer in enumerate(ours.layers):
        expected = -np.concatenate([reference[2 * i], reference[2 * i + 1][None, :]]).ravel()
        np.testing.assert_allclose(delta[layer.block], expected, rtol=1e-10,
                                   atol=1e-12 * np.abs(expected).max())
    assert np.abs(delta + g).max() > 1e-3 * np.abs(g).max()  # preconditioned, not -g
