"""K-FAC on models that nest other models: registered when their layers run on the outer
model's tensors, a clear error when a nested model was built on its own Input."""
import numpy as np
import pytest

from hessianlearn import keras
from hessianlearn.algorithms.kfac import KFAC
from hessianlearn.problem.regression_problem import RegressionProblem
from test_optimizer_lab import _explicit_gauss_newton, _session


def _nested(built):
    init = {"kernel_initializer": keras.initializers.GlorotNormal(seed=1),
            "bias_initializer": keras.initializers.RandomNormal(stddev=0.3, seed=2)}
    first = keras.layers.Dense(4, activation="tanh", input_shape=(3,), **init) if built \
        else keras.layers.Dense(4, activation="tanh", **init)
    inner = keras.Sequential([first, keras.layers.Dense(2, **init)])
    x_in = keras.Input((3,))
    return RegressionProblem(keras.Model(x_in, inner(x_in)))


def test_kfac_factors_the_layers_of_a_nested_model_called_on_the_outer_input(float64):
    problem = _nested(built=False)
    sess = _session(problem)
    rng = np.random.default_rng(4)
    feed = {problem.x: rng.standard_normal((1, 3)), problem.y_true: rng.standard_normal((1, 2))}
    opt = KFAC(problem, sess=sess, parameters={"fisher": "exact"})
    assert [layer.kind for layer in opt.layers] == ["Dense", "Dense"]
    G = _explicit_gauss_newton(problem, sess, feed)
    for layer, (A, Gf) in zip(opt.layers, opt.batch_factors(feed)):
        block = G[layer.block, layer.block]  # one sample: K-FAC's diagonal blocks are exact
        np.testing.assert_allclose(np.kron(A, Gf), block, rtol=1e-10,
                                   atol=1e-13 * np.abs(block).max())


def test_kfac_refuses_a_nested_model_built_on_its_own_input(float64):
    problem = _nested(built=True)
    sess = _session(problem)
    with pytest.raises(ValueError, match=r"K-FAC cannot factor layer 'dense'.*nested model "
                                         r"built on its own Input.*without an input shape"):
        KFAC(problem, sess=sess)
