"""KerasModelWrapper: a compiled tf-keras model trained by the one HessianlearnModel loop."""
import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn.data.data import Data
from hessianlearn.model.keras_model_wrapper import KerasModelWrapper
from hessianlearn.model.logger import last_value
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.model.optimizer_registry import resolve_optimizer

QUIET = {"verbose": False, "save_logger": False}


def compiled_regressor():
    """3-4-2 tanh regressor (dW = 26) compiled with mse and an mae metric."""
    tf.set_random_seed(0)
    x_in = keras.Input((3,))
    hidden = keras.layers.Dense(4, activation="tanh")(x_in)
    network = keras.Model(x_in, keras.layers.Dense(2)(hidden))
    network.compile(loss="mse", metrics=["mae"])
    return network


def regression_data(problem):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((120, 3))
    y = np.stack([np.sin(x[:, 0]) + 0.5 * x[:, 1], x[:, 2] * 0.3 - x[:, 0]], axis=1)
    return Data({problem.x: x, problem.y_true: y}, 20, validation_data_size=20, hessian_batch_size=10)


def _needs(*names):
    try:
        for name in names:
            resolve_optimizer(name)
    except (ImportError, AttributeError):
        pytest.skip(f"optimizers {names} not available yet")


def test_wrapper_fits_and_puts_the_best_weights_into_the_model(float64):
    _needs("incg")
    network = compiled_regressor()
    wrapper = KerasModelWrapper(network, regularization=1e-6,
                                settings={**QUIET, "max_sweeps": 2, "alpha": 0.5})
    wrapper.set_optimizer("incg")
    data = regression_data(wrapper.problem)
    logger = wrapper.fit(data)
    assert logger["optimizer"] == "incg" and logger["status"] == "max_sweeps"
    assert min(logger["val_loss"].values()) < logger["initial_val_loss"]
    assert "val_mae" in logger and len(logger["val_mae"]) == len(logger["val_loss"])
    keras_flat = np.concatenate([w.ravel() for w in network.get_weights()])
    np.testing.assert_array_equal(keras_flat, logger["best_weights"])
    # predictions of the Keras model itself now come from the best weights
    x_val = data.validation[wrapper.problem.x]
    y_val = data.validation[wrapper.problem.y_true]
    best_val = logger["val_loss"][logger["best_iteration"]]
    assert np.mean((network.predict(x_val, verbose=0) - y_val) ** 2) == pytest.approx(best_val, rel=1e-10)
    assert type(wrapper.optimizer).__name__ == "InexactNewtonCG"
    assert isinstance(wrapper.model, HessianlearnModel)
    wrapper.close()


def test_wrapper_with_an_optimizer_class_and_refit(float64):
    _needs("sgd", "adam")
    gradient_descent, parameters = resolve_optimizer("sgd")
    network = compiled_regressor()
    p = parameters()
    p["alpha"] = 0.1
    wrapper = KerasModelWrapper(network, optimizer=gradient_descent, optimizer_parameters=p,
                                settings={**QUIET, "max_sweeps": 1})
    data = regression_data(wrapper.problem)
    first = wrapper.fit(data)
    assert first["optimizer"] == "GradientDescent" and wrapper.optimizer.alpha == 0.1
    wrapper.set_optimizer("adam", {"alpha": 0.01})
    second = wrapper.fit(data)
    assert second["optimizer"] == "adam" and wrapper.optimizer.parameters["alpha"] == 0.01
    assert first["initial_val_loss"] == second["initial_val_loss"]
    assert last_value(second["val_loss"]) < second["initial_val_loss"]


def test_wrapper_bad_input(float64):
    x_in = keras.Input((3,))
    uncompiled = keras.Model(x_in, keras.layers.Dense(2)(x_in))
    with pytest.raises(ValueError, match="compile"):
        KerasModelWrapper(uncompiled)
    network = compiled_regressor()
    with pytest.raises(TypeError, match="regularization"):
        KerasModelWrapper(network, regularization="l2")
    wrapper = KerasModelWrapper(network, settings=QUIET)
    with pytest.raises(ValueError, match="Unknown optimizer|'lrsfn'"):
        wrapper.set_optimizer("newton")
    with pytest.raises(TypeError, match="name_or_class"):
        wrapper.set_optimizer(3)
    with pytest.raises(TypeError, match="kerasModel"):
        KerasModelWrapper(object())


def test_wrapper_has_no_loop_of_its_own():
    """The wrapper delegates to HessianlearnModel.fit (no second copy of the loop)."""
    own = set(vars(KerasModelWrapper))
    assert not {"_loop", "_validate", "_log_state", "_log_evaluation", "_finish"} & own
