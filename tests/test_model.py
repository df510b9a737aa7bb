"""HessianlearnModel: the fit loop, sweeps accounting, logging, best weights, errors."""
import json
import os
import warnings

import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn.data.data import Data
from hessianlearn.model.logger import load_logger, last_value
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.model.optimizer_registry import make_optimizer
from hessianlearn.model.printer import Printer
from hessianlearn.model.settings import HessianlearnModelSettings
from hessianlearn.problem.autoencoder_problem import AutoencoderProblem
from hessianlearn.problem.classification_problem import ClassificationProblem
from hessianlearn.problem.regularization import L2Regularization
from hessianlearn.utilities.parameter_list import ParameterList

QUIET = {"verbose": False, "save_logger": False}



# ---------------------------------------------------------------------------- tiny problems
def autoencoder(hessian_batch_size=10, activation="tanh"):
    """6-3-6 autoencoder (dW = 45) on rank-2 data; N = 160 training, 40 validation samples."""
    tf.set_random_seed(0)
    x_in = keras.Input((6,))
    hidden = keras.layers.Dense(3, activation=activation, name="enc")(x_in)
    network = keras.Model(x_in, keras.layers.Dense(6, name="dec")(hidden))
    problem = AutoencoderProblem(network, hessian_block_size=5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)) @ rng.standard_normal((2, 6)) / 2
    data = Data({problem.x: x}, 20, validation_data_size=40, hessian_batch_size=hessian_batch_size)
    return problem, data


def classifier():
    """4-5-3 classifier (dW = 43), N = 120 training, 30 validation samples."""
    tf.set_random_seed(0)
    x_in = keras.Input((4,))
    hidden = keras.layers.Dense(5, activation="tanh")(x_in)
    problem = ClassificationProblem(keras.Model(x_in, keras.layers.Dense(3)(hidden)), hessian_block_size=5)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((150, 4))
    y = np.eye(3)[np.argmax(x[:, :3] + 0.3 * x[:, 3:], axis=1)]
    data = Data({problem.x: x, problem.y_true: y}, 20, validation_data_size=30, hessian_batch_size=10)
    return problem, data


class ScriptedOptimizer:
    """A minimal optimizer: gradient step ``-alpha g``, fixed work counts per step.

    Parameters (a ParameterList): ``alpha``, ``hessian_products`` (added to
    ``sweeps[1]`` per step), ``nan_at`` (iteration raising FloatingPointError),
    ``ruin_after`` (iteration after which the weights are thrown far off).
    """

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        self.problem, self.sess, self.parameters = problem, sess, parameters
        self.sweeps = np.zeros(2)
        self.iter = 0
        self.alpha = parameters["alpha"]
        self.last_evaluation = {}
        self.hessian_feeds = []
        self.feeds = []

    def minimize(self, feed_dict, hessian_feed_dict=None):
        if self.iter == self.parameters["nan_at"]:
            raise FloatingPointError("the loss is NaN.")
        loss, g = self.sess.run([self.problem.loss, self.problem.gradient], feed_dict)
        self.last_evaluation = {"loss": loss, "data_loss": loss, "norm_g": float(np.linalg.norm(g))}
        self.sweeps += [1.0, self.parameters["hessian_products"]]
        self.hessian_feeds.append(hessian_feed_dict)
        self.feeds.append(feed_dict)
        step = -self.alpha * g
        if self.parameters["ruin_after"] is not None and self.iter > self.parameters["ruin_after"]:
            step = np.full_like(g, 3.0)
        self.problem.update_weights(self.sess, step)
        self.iter += 1


def scripted(alpha=0.1, hessian_products=0, nan_at=-1, ruin_after=None):
    return ParameterList({
        "alpha": [alpha, "step"], "hessian_products": [hessian_products, "Hv per step"],
        "nan_at": [nan_at, "iteration raising"], "ruin_after": [ruin_after, "iteration"],
    })


def fit_scripted(problem, data, settings=None, w_0=None, **parameters):
    model = HessianlearnModel(problem, None, data, settings={**QUIET, **(settings or {})})
    model.set_optimizer(ScriptedOptimizer, scripted(**parameters))
    return model, model.fit(w_0)


# ---------------------------------------------------------------------------- every optimizer
#: (name, globalization, fixed step); None where the step is not alpha (line searches start at
#: line_search_alpha = 1, the trust region at the unit step, the spectral step at its own bound)
CASES = [
    ("sgd", None, 0.1), ("gd", None, None), ("adam", None, 0.02),
    ("incg", None, 0.5), ("incg", "line_search", None), ("incg", "trust_region", None),
    ("ingmres", None, 0.5), ("inminres", None, 0.5),
    ("lrsfn", None, 0.1), ("lrsfn", "line_search", None), ("lrsfn", "spectral_step", None),
]
#: LRSFN on 45 weights: rank 3 + oversampling 2 (one 5-column Hessian block), damping 0.1
LRSFN_SETTINGS = {"hessian_low_rank": 3, "oversample": 2, "default_damping": 0.1}


@pytest.mark.parametrize("make", [autoencoder, classifier], ids=["autoencoder", "classifier"])
@pytest.mark.parametrize("name, globalization, alpha", CASES,
                         ids=[f"{n}-{g}" for n, g, _ in CASES])
def test_every_optimizer_lowers_the_validation_loss(float64, make, name, globalization, alpha):
    problem, data = make()
    settings = {**QUIET, "optimizer": name, "globalization": globalization, "alpha": alpha,
                "max_sweeps": 2, **(LRSFN_SETTINGS if name == "lrsfn" else {})}
    model = HessianlearnModel(problem, L2Regularization(problem, 1e-6), data, settings=settings)
    logger = model.fit()
    assert logger["status"] == "max_sweeps"
    assert min(logger["val_loss"].values()) < logger["initial_val_loss"]
    assert logger["sweeps"][max(logger["sweeps"])] >= 2
    assert np.isfinite(list(logger["train_loss"].values())).all()


# ---------------------------------------------------------------------------- reproducibility
def test_same_seed_gives_identical_loggers(float64):
    problem, data = autoencoder()
    settings = {**QUIET, "optimizer": "incg", "alpha": 0.5, "max_sweeps": 1.5}
    first = HessianlearnModel(problem, None, data, settings=settings).fit()
    second_model = HessianlearnModel(problem, None, data, settings=settings)
    second = second_model.fit()
    for key in ("train_loss", "||g||", "sweeps", "alpha", "val_loss", "val_acc"):
        assert first[key] == second[key], key
    assert first["initial_val_loss"] == second["initial_val_loss"]
    np.testing.assert_array_equal(first["best_weights"], second["best_weights"])


def test_same_seed_lrsfn_identical_and_a_new_graph_too(float64):
    settings = {**QUIET, "optimizer": "lrsfn", "alpha": 0.1, "max_sweeps": 2, **LRSFN_SETTINGS}
    problem, data = autoencoder()
    a = HessianlearnModel(problem, None, data, settings=settings).fit()
    with tf.Graph().as_default():
        problem2, data2 = autoencoder()
        b = HessianlearnModel(problem2, None, data2, settings=settings).fit()
    assert a["train_loss"] == b["train_loss"] and a["val_loss"] == b["val_loss"]
    for i in a["train_eigenvalues"]:
        np.testing.assert_array_equal(a["train_eigenvalues"][i], b["train_eigenvalues"][i])


# ---------------------------------------------------------------------------- sweeps
def test_sweeps_accounting_with_hessian_batches(float64):
    problem, data = autoencoder(hessian_batch_size=10)  # N = 160, b = 20, b_H = 10
    model, logger = fit_scripted(problem, data, {"max_sweeps": 1.0}, hessian_products=3)
    per_step = 20 / 160 + 3 * 10 / 160
    expected = {i: i * per_step for i in logger["sweeps"]}  # key i: work done to reach w_i
    assert logger["sweeps"] == pytest.approx(expected, rel=1e-13)
    assert len(logger["sweeps"]) == int(np.ceil(1.0 / per_step - 1e-12)) + 1  # w_0 .. w_n
    assert all(feed is not None and len(next(iter(feed.values()))) == 10
               for feed in model.optimizer.hessian_feeds)


def test_sweeps_accounting_without_hessian_batches_uses_the_gradient_batch(float64):
    problem, data = autoencoder(hessian_batch_size=-1)
    model, logger = fit_scripted(problem, data, {"max_sweeps": 1.0}, hessian_products=2)
    per_step = (1 + 2) * 20 / 160
    assert logger["sweeps"][0] == 0.0
    assert logger["sweeps"][1] == pytest.approx(per_step, rel=1e-13)
    assert logger["sweeps"][3] == pytest.approx(3 * per_step, rel=1e-13)
    assert all(feed is None for feed in model.optimizer.hessian_feeds)


@pytest.mark.parametrize("optimizer, draws", [("adam", False), ("sgd", False), ("lbfgs", False),
                                              ("lrsfn", True)])
def test_hessian_batches_are_drawn_only_for_optimizers_that_read_them(float64, optimizer, draws):
    """First-order methods (``uses_hessian_batch`` False) read no Hessian batch, so the fit
    loop draws none: the Hessian stream stays where it was; LRSFN draws one per step."""
    problem, data = autoencoder(hessian_batch_size=10)
    settings = {**QUIET, "optimizer": optimizer, "max_sweeps": 0.5,
                **({"hessian_low_rank": 3, "alpha": 1e-2} if optimizer == "lrsfn" else {})}
    model = HessianlearnModel(problem, None, data, settings=settings)
    logger = model.fit()
    served = data.state_dict()["hess_train"]["stream"]["served"]
    steps = len(logger["sweeps"]) - 1
    assert model.optimizer.uses_hessian_batch is draws
    assert served == (10 * steps if draws else 0)


def test_first_order_iterates_do_not_depend_on_drawing_hessian_batches(float64, monkeypatch):
    """Skipping the Hessian batches of an optimizer that reads none leaves its run as it was:
    the same losses, gradient norms and validations as with the batches drawn."""
    from hessianlearn.algorithms.adam import Adam
    loggers = []
    for drawn in (False, True):
        monkeypatch.setattr(Adam, "uses_hessian_batch", drawn)
        with tf.Graph().as_default():  # a new graph each: the same initial weights
            problem, data = autoencoder(hessian_batch_size=10)
            model = HessianlearnModel(problem, None, data, settings={
                **QUIET, "optimizer": "adam", "max_sweeps": 0.5})
            loggers.append(model.fit())
            served = data.state_dict()["hess_train"]["stream"]["served"]
            assert served == (10 * (len(loggers[-1]["sweeps"]) - 1) if drawn else 0)
    for key in ("train_loss", "||g||", "val_loss", "sweeps"):
        assert loggers[0][key] == loggers[1][key], key


def test_sweeps_of_real_optimizers(float64):
    problem, data = autoencoder()
    logger = HessianlearnModel(problem, None, data,
                               settings={**QUIET, "optimizer": "sgd", "max_sweeps": 0.5}).fit()
    assert logger["sweeps"][0] == 0.0 and logger["sweeps"][1] == pytest.approx(20 / 160)  # one pass
    assert len(logger["sweeps"]) == 5  # w_0 .. w_4


def test_the_loop_adds_no_evaluation_per_iteration(float64, monkeypatch):
    """Training loss and ||g|| come from the optimizer's own evaluation; the loop only validates."""
    import hessianlearn.model.model as model_module

    calls = []
    original = model_module.evaluate
    monkeypatch.setattr(model_module, "evaluate",
                        lambda sess, fetches, feed, comm=None: calls.append(feed) or
                        original(sess, fetches, feed, comm))
    problem, data = autoencoder()
    model, logger = fit_scripted(problem, data, {"max_sweeps": 1.0, "validate_frequency": 0.5})
    assert len(logger["train_loss"]) == 8
    assert len(calls) == len(logger["val_loss"]) == 3  # initial (key 0) + two validations
    assert all(feed.keys() == data.validation.keys() for feed in calls)


def test_validation_and_printing_follow_sweep_boundaries(float64, capsys):
    problem, data = autoencoder()
    # 0.125 sweeps per step: w_0, then boundaries of 0.5 at w_4, w_8, w_12, w_16 (the last)
    _, logger = fit_scripted(problem, data, {"max_sweeps": 2.0, "validate_frequency": 0.5,
                                             "verbose": True, "printing_sweep_frequency": 1.0})
    assert sorted(logger["val_loss"]) == [0, 4, 8, 12, 16]
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [line for line in lines[3:] if line.strip()]
    assert len(rows) == 3  # w_0, sweep 1 (w_8), sweep 2 (w_16, the last)
    assert lines[1].split()[:3] == ["sweeps", "Loss", "acc"]


def test_quiet_runs_print_nothing(float64, capsys):
    problem, data = autoencoder()
    fit_scripted(problem, data, {"max_sweeps": 0.5})
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------- logger files
def test_logger_saved_atomically_once_per_validation(float64, tmp_path, monkeypatch):
    import hessianlearn.model.model as model_module

    monkeypatch.chdir(tmp_path)
    calls = []
    original = model_module.save_logger
    monkeypatch.setattr(model_module, "save_logger",
                        lambda logger, d, n: calls.append(len(logger["val_loss"])) or original(logger, d, n))
    problem, data = autoencoder()
    model, logger = fit_scripted(problem, data, {"max_sweeps": 1.0, "validate_frequency": 0.5,
                                                 "save_logger": True, "problem_name": "tiny",
                                                 "logger_outname": "run"})
    assert calls == [2, 3, 3]  # (initial,) two validations, then the final save
    folder = tmp_path / "tiny_logging"
    assert sorted(os.listdir(folder)) == ["run.json", "run.pkl"]  # no temporary files left
    assert model.logger_path == os.path.join("tiny_logging", "run.pkl")
    loaded = load_logger(folder / "run.pkl")
    assert loaded["train_loss"] == logger["train_loss"] and loaded["status"] == "max_sweeps"
    np.testing.assert_array_equal(loaded["best_weights"], logger["best_weights"])
    summary = json.loads((folder / "run.json").read_text())
    assert summary["val_loss"]["last"] == pytest.approx(last_value(logger["val_loss"]))


# ---------------------------------------------------------------------------- best weights
def test_best_weights_restored_into_the_keras_model(float64):
    problem, data = autoencoder()
    model, logger = fit_scripted(problem, data, {"max_sweeps": 2.0, "validate_frequency": 0.5},
                                 alpha=0.2, ruin_after=5)
    assert logger["best_iteration"] == 4  # validations at w_0, w_4, w_8, ...; ruined from step 6
    best = logger["best_weights"]
    assert logger["val_acc"][4] == max(logger["val_acc"].values())
    keras_flat = np.concatenate([w.ravel() for w in problem.NN.get_weights()])
    np.testing.assert_array_equal(keras_flat, best)
    np.testing.assert_array_equal(problem.get_weights(model.sess), best)
    val_loss = model.sess.run(problem.loss, data.validation)
    assert val_loss == pytest.approx(logger["val_loss"][4], rel=1e-12)


def test_best_weights_restored_into_a_keras_model_with_frozen_weights(float64):
    """The trained weights are written into the Keras model, its frozen ones left as they were."""
    tf.set_random_seed(0)
    x_in = keras.Input((6,))
    frozen = keras.layers.Dense(6, name="frozen", trainable=False)(x_in)
    hidden = keras.layers.Dense(3, activation="tanh", name="enc")(frozen)
    network = keras.Model(x_in, keras.layers.Dense(6, name="dec")(hidden))
    problem = AutoencoderProblem(network, hessian_block_size=5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)) @ rng.standard_normal((2, 6)) / 2
    data = Data({problem.x: x}, 20, validation_data_size=40, hessian_batch_size=10)
    before = {id(v): w for v, w in zip(network.weights, network.get_weights())}
    model, logger = fit_scripted(problem, data, {"max_sweeps": 1.0}, alpha=0.2)
    after = {id(v): w for v, w in zip(network.weights, network.get_weights())}
    assert len(network.non_trainable_weights) == 2 and problem.dimension == 45
    for v in network.non_trainable_weights:
        np.testing.assert_array_equal(after[id(v)], before[id(v)])
    keras_flat = np.concatenate([after[id(v)].ravel() for v in network.trainable_weights])
    np.testing.assert_array_equal(keras_flat, logger["best_weights"])
    assert not np.array_equal(keras_flat, np.concatenate(
        [before[id(v)].ravel() for v in network.trainable_weights]))


def test_save_weights_false_keeps_the_final_weights(float64):
    problem, data = autoencoder()
    model, logger = fit_scripted(problem, data, {"max_sweeps": 1.0, "save_weights": False},
                                 ruin_after=2)
    assert logger["best_weights"] is None
    assert np.all(problem.get_weights(model.sess) != 0) and \
        model.sess.run(problem.loss, data.validation) > logger["initial_val_loss"]


# ---------------------------------------------------------------------------- non-finite runs
def test_non_finite_step_stops_cleanly(float64, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    problem, data = autoencoder()
    with pytest.warns(RuntimeWarning, match="iteration 6.*best weights were restored"):
        model, logger = fit_scripted(problem, data, {"max_sweeps": 5.0, "validate_frequency": 0.25,
                                                     "save_logger": True, "logger_outname": "nan"},
                                     nan_at=6)
    assert logger["status"] == "non_finite" and "NaN" in logger["stop_reason"]
    assert max(logger["train_loss"]) == 5
    loaded = load_logger(os.path.join("problem_logging", "nan.pkl"))
    assert loaded["status"] == "non_finite"
    np.testing.assert_array_equal(problem.get_weights(model.sess), logger["best_weights"])


def test_diverging_run_with_huge_alpha_stops_cleanly(float64):
    problem, data = autoencoder(activation="linear")
    model = HessianlearnModel(problem, None, data,
                              settings={**QUIET, "optimizer": "sgd", "alpha": 1e3, "max_sweeps": 50})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy overflow on the way to inf
        logger = model.fit()
    assert logger["status"] == "non_finite"
    w = problem.get_weights(model.sess)
    assert np.all(np.isfinite(w))
    np.testing.assert_array_equal(w, logger["best_weights"])
    assert model.sess.run(problem.loss, data.validation) <= logger["initial_val_loss"]


# ---------------------------------------------------------------------------- initial weights
def test_w0_flat_and_keras_list(float64):
    problem, data = autoencoder()
    w_0 = np.linspace(-0.5, 0.5, problem.dimension)
    model, logger = fit_scripted(problem, data, {"max_sweeps": 0.1}, alpha=1e-300)
    model.fit(w_0)
    np.testing.assert_allclose(problem.get_weights(model.sess), w_0, atol=1e-12)
    keras_list = [w_0[a:b].reshape(s) for (a, b), s in zip(problem.indices, problem.shapes)]
    model.fit(keras_list)
    np.testing.assert_allclose(problem.get_weights(model.sess), w_0, atol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (np.zeros(44), "length 45"),
    (np.zeros((45, 1)), "flat vector"),
    ([np.zeros((6, 3)), np.zeros(3), np.zeros((3, 6))], "4 arrays"),
    ([np.zeros((3, 6)), np.zeros(3), np.zeros((3, 6)), np.zeros(6)], r"w_0\[0\].*\(6, 3\)"),
    (np.full(45, np.nan), "NaN"),
])
def test_bad_w0_raises(float64, bad, match):
    problem, data = autoencoder()
    model = HessianlearnModel(problem, None, data, settings=QUIET)
    with pytest.raises(ValueError, match=match):
        model.fit(bad)


def test_layer_weights_are_applied_and_checked(float64):
    problem, data = autoencoder()
    kernel = np.arange(18.0).reshape(6, 3) / 10
    model, _ = fit_scripted(problem, data, {"max_sweeps": 0.1,
                                            "layer_weights": {"enc": [kernel, np.ones(3)]}},
                            alpha=1e-300, ruin_after=None)
    np.testing.assert_allclose(problem.get_weights(model.sess)[:18], kernel.ravel(), atol=1e-12)
    for layer_weights, match in [({"encoder": [kernel, np.ones(3)]}, "'enc'"),
                                 ({"enc": [kernel]}, "2 arrays"),
                                 ({"enc": [kernel.T, np.ones(3)]}, r"\(6, 3\)")]:
        model.settings["layer_weights"] = layer_weights
        with pytest.raises(ValueError, match=match):
            model.fit()


def test_derivative_data_is_merged_into_every_feed(float64):
    problem, data = autoencoder()
    with problem._graph.as_default():
        extra = tf.placeholder(tf.float64, [None, 2], name="extra")
    values = np.arange(400.0).reshape(200, 2)
    derivative_data = Data({extra: values}, 20, validation_data_size=40, hessian_batch_size=10)
    seen = []
    model = HessianlearnModel(problem, None, data, derivative_data=derivative_data,
                              settings={**QUIET, "max_sweeps": 0.5})
    model.set_optimizer(ScriptedOptimizer, scripted())
    original = model._validation_feed
    model._validation_feed = lambda: seen.append(original()) or seen[-1]
    model.fit()
    assert len(seen) == 2 and all(extra in feed and problem.x in feed for feed in seen)
    assert len(model.optimizer.feeds) == 4
    assert all(extra in feed and len(feed[extra]) == 20 for feed in model.optimizer.feeds)


def test_rank_above_dimension_raises_at_fit(float64):
    problem, data = autoencoder()
    model = HessianlearnModel(problem, None, data, settings={**QUIET, "hessian_low_rank": 46})
    with pytest.raises(ValueError, match="hessian_low_rank.*45"):
        model.fit()


def test_bad_constructor_arguments(float64):
    problem, data = autoencoder()
    with pytest.raises(TypeError, match="problem"):
        HessianlearnModel(object(), None, data)
    with pytest.raises(TypeError, match="data"):
        HessianlearnModel(problem, None, {"x": 1})
    with pytest.raises(KeyError, match="max_sweeps"):
        HessianlearnModel(problem, None, data, settings={"max_sweep": 1})
    model = HessianlearnModel(problem, None, data, settings=QUIET)
    with pytest.raises(ValueError, match="'adam'"):
        model.set_optimizer("adamw")
    assert model.settings["optimizer"] == "lrsfn"


# ---------------------------------------------------------------------------- optimizer choice
def test_fit_twice_with_a_changed_optimizer(float64):
    problem, data = autoencoder()
    model = HessianlearnModel(problem, None, data,
                              settings={**QUIET, "optimizer": "incg", "alpha": 0.5, "max_sweeps": 1})
    first = model.fit()
    model.settings["optimizer"] = "adam"
    model.settings["alpha"] = 0.02
    second = model.fit()
    assert first["optimizer"] == "incg" and second["optimizer"] == "adam"
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.alpha == 0.02
    assert first["initial_val_loss"] == second["initial_val_loss"]  # fresh initial weights
    assert first["train_loss"][0] == second["train_loss"][0]
    assert last_value(second["val_loss"]) < second["initial_val_loss"]
    model.settings["alpha"] = -1.0
    with pytest.raises(ValueError, match="alpha"):
        model.fit()


def test_make_optimizer_copies_settings_and_overrides(float64):
    problem, _ = autoencoder()
    with tf.Session(graph=problem._graph) as sess:
        sess.run(tf.global_variables_initializer())
        s = HessianlearnModelSettings({"optimizer": "incg", "alpha": 0.3, "globalization": "line_search",
                                       "max_backtrack": 4, "seed": 7})
        opt = make_optimizer(s, problem, None, sess)
        assert type(opt).__name__ == "InexactNewtonCG"
        assert (opt.parameters["alpha"], opt.parameters["globalization"],
                opt.parameters["max_backtrack"], opt.parameters["seed"]) == (0.3, "line_search", 4, 7)
        assert make_optimizer(s, problem, None, sess, optimizer="sgd").parameters["globalization"] is None
        assert make_optimizer(s, problem, None, sess, optimizer="gd").parameters["globalization"] \
            == "line_search"
        s["globalization"] = "spectral_step"
        with pytest.raises(ValueError, match="spectral_step.*incg.*'trust_region'"):
            make_optimizer(s, problem, None, sess)
        s["globalization"] = None
        with pytest.raises(KeyError, match="alpha"):
            make_optimizer(s, problem, None, sess, parameters={"alpah": 1.0})
        with pytest.raises(ValueError, match="Unknown optimizer"):
            make_optimizer(s, problem, None, sess, optimizer="bfgs")
        cls = type(opt)
        by_class = make_optimizer(s, problem, None, sess, optimizer=cls, parameters=None)
        assert by_class.parameters["alpha"] == 0.3


# ---------------------------------------------------------------------------- spectrum
def test_record_spectrum_does_not_change_the_run(float64):
    problem, data = autoencoder()
    settings = {**QUIET, "optimizer": "incg", "alpha": 0.5, "max_sweeps": 1.0}
    plain = HessianlearnModel(problem, None, data, settings=settings).fit()
    recorded = HessianlearnModel(problem, None, data, settings={
        **settings, "record_spectrum": True, "target_rank": 5, "oversample": 5, "rq_samps": 4,
        "spec_frequency": 0.5}).fit()
    assert plain["sweeps"] == recorded["sweeps"] and plain["train_loss"] == recorded["train_loss"]
    assert len(recorded["full_train_eigenvalues"]) >= 2
    first = min(recorded["full_train_eigenvalues"])
    eigenvalues = recorded["full_train_eigenvalues"][first]
    assert eigenvalues.shape == (5,) and np.all(np.diff(np.abs(eigenvalues)) <= 1e-12)
    assert recorded["rq_std"][first].shape == (5,) and np.all(recorded["rq_std"][first] >= 0)


def test_last_rq_std_warns_without_eigenvectors(float64):
    problem, data = autoencoder()
    with pytest.warns(RuntimeWarning, match="eigenvectors"):
        _, logger = fit_scripted(problem, data, {"max_sweeps": 0.25, "record_last_rq_std": True})
    assert logger["last_rq_std"] == {}


def test_last_rq_std_of_the_optimizer_eigenvectors(float64):
    class WithEigenvectors(ScriptedOptimizer):
        eigenvectors = np.eye(45)[:, :3]

    problem, data = autoencoder()
    model = HessianlearnModel(problem, None, data, settings={
        **QUIET, "max_sweeps": 0.25, "record_last_rq_std": True, "rq_samps": 4})
    model.set_optimizer(WithEigenvectors, scripted())
    logger = model.fit()
    assert sorted(logger["last_rq_std"]) == [0, 1]
    # e_3^T H_j e_3 over the 4 partitions of the full training set, by hand (weights after step 1)
    from hessianlearn.problem.hessian import Hessian

    model_after = HessianlearnModel(problem, None, data, settings={**QUIET, "max_sweeps": 0.25,
                                                                  "save_weights": False})
    model_after.set_optimizer(ScriptedOptimizer, scripted())
    model_after.fit()
    H = Hessian(problem, model_after.sess)
    parts = problem._partition_dictionaries(model_after._full_training_feed(), 4)
    quotients = [H.quadratics(np.eye(45)[:, 2], part) for part in parts]
    assert logger["last_rq_std"][1] == pytest.approx(np.std(quotients), rel=1e-10)


# ---------------------------------------------------------------------------- printer
def test_printer_columns_and_blanks(capsys):
    printer = Printer({"sweeps": "sweeps", "Loss": "train_loss", "rank": "hessian_low_rank"}, width=10)
    printer.header("title")
    printer.row({"sweeps": {0: 0.125, 1: 0.25}, "train_loss": {1: 1.5e-5}, "hessian_low_rank": {}})
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "    sweeps      Loss      rank"
    assert out[3] == "    0.2500 1.500e-05" + " " * 10
    Printer({"a": "b"}, enabled=False).header()
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="items"):
        Printer(["sweeps"])
