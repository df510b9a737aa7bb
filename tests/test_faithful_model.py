"""The original hessianlearn's fit behaviour: iteration-0 validation, settings reaching the
optimizers from one place, unit-step Armijo searches, warnings for unused settings, and the
original's function form of ``ArmijoLineSearch``."""
import re
import warnings

import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn.algorithms.armijo_line_search import ArmijoLineSearch, ArmijoResult
from hessianlearn.algorithms.gradient_descent import GradientDescent
from hessianlearn.algorithms.low_rank_saddle_free_newton import ParametersLowRankSaddleFreeNewton
from hessianlearn.algorithms.optimizer import line_search_parameters
from hessianlearn.data.data import Data
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.model.optimizer_registry import OPTIMIZERS, make_optimizer, resolve_optimizer
from hessianlearn.model.printer import Printer
from hessianlearn.model.settings import HessianlearnModelSettings, changed_settings
from hessianlearn.problem.autoencoder_problem import AutoencoderProblem

QUIET = {"verbose": False, "save_logger": False}


def autoencoder(hessian_batch_size=10):
    """6-3-6 tanh autoencoder (dW = 45) on rank-2 data; N = 160 training, 40 validation."""
    tf.set_random_seed(0)
    x_in = keras.Input((6,))
    hidden = keras.layers.Dense(3, activation="tanh", name="enc")(x_in)
    network = keras.Model(x_in, keras.layers.Dense(6, name="dec")(hidden))
    problem = AutoencoderProblem(network, hessian_block_size=5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)) @ rng.standard_normal((2, 6)) / 2
    data = Data({problem.x: x}, 20, validation_data_size=40, hessian_batch_size=hessian_batch_size)
    return problem, data


def initial_weights(problem):
    return np.random.default_rng(5).uniform(-0.6, 0.6, problem.dimension)


# ---------------------------------------------------------------------------- item 1: iteration 0
def test_val_loss_at_iteration_zero_is_the_initial_validation_and_printed_first(float64, capsys):
    problem, data = autoencoder()
    w_0 = initial_weights(problem)
    model = HessianlearnModel(problem, None, data, settings={
        "save_logger": False, "optimizer": "lrsfn", "hessian_low_rank": 4, "max_sweeps": 1.0,
        "save_weights": False})
    logger = model.fit(w_0)
    problem.set_weights(model.sess, w_0)
    expected = model.sess.run(problem.loss, data.validation)
    assert logger["val_loss"][0] == pytest.approx(expected, rel=1e-12)
    assert logger["initial_val_loss"] == logger["val_loss"][0]
    # The original's iteration keys: key i is the iterate w_i (before step i).
    n = len(logger["train_loss"])
    assert sorted(logger["sweeps"]) == list(range(n + 1)) and logger["sweeps"][0] == 0.0
    assert sorted(logger["train_loss"]) == sorted(logger["train_eigenvalues"]) == list(range(n))
    assert sorted(logger["alpha"]) == sorted(logger["hessian_low_rank"]) == list(range(n + 1))
    assert logger["hessian_low_rank"][0] == 0 and logger["hessian_low_rank"][1] == 4
    assert logger["time"][0] == 0.0 and logger["total_time"][0] == 0.0
    assert logger["total_time"][n] == pytest.approx(sum(logger["time"].values()), rel=1e-12)
    assert min(logger["val_loss"]) == 0 and max(logger["val_loss"]) == n
    assert logger["best_iteration"] in logger["val_loss"]
    # Training loss at w_0 on the first batch, from step 0's own evaluation.
    data.reset()
    first_batch = next(data.train)
    assert logger["train_loss"][0] == pytest.approx(model.sess.run(problem.loss, first_batch), rel=1e-12)
    # The first printed row is w_0's, with its validation loss in the Loss_val column.
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["sweeps", "Loss"])
    labels = list(model.settings["printing_items"])
    width = len(lines[header]) // len(labels)
    first_row = lines[header + 2]
    column = labels.index("Loss_val")
    cell = first_row[column * width:(column + 1) * width]
    assert cell == Printer({}, width=width)._cell(logger["val_loss"][0])
    assert first_row[:width] == Printer({}, width=width)._cell(0.0)


# ---------------------------------------------------------------------------- item 2: first steps
def _globalizations(name):
    entry = OPTIMIZERS[name]
    return entry.globalizations or (entry.overrides.get("globalization"),)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_default_settings_take_the_directly_built_optimizers_first_step(float64, name):
    """For every globalization of ``name``: the model's first step from default settings is
    the step of ``Class(problem, None, sess, parameters={'globalization': g})``."""
    problem, data = autoencoder()
    w_0 = initial_weights(problem)
    entry = OPTIMIZERS[name]
    cls, _ = resolve_optimizer(name)
    for globalization in _globalizations(name):
        settings = {**QUIET, "optimizer": name, "max_sweeps": 1e-9, "save_weights": False}
        parameters = dict(entry.overrides)
        if entry.globalizations is not None:
            settings["globalization"] = parameters["globalization"] = globalization
        model = HessianlearnModel(problem, None, data, settings=settings)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # default settings: nothing is unused
            logger = model.fit(w_0)
        assert len(logger["train_loss"]) == 1
        by_model = problem.get_weights(model.sess)
        model.close()

        with tf.Session(graph=problem._graph) as sess:
            sess.run(tf.global_variables_initializer())
            problem.set_weights(sess, w_0)
            direct = cls(problem, None, sess, parameters=parameters)
            data.reset()
            direct.minimize(next(data.train), hessian_feed_dict=next(data.hess_train))
            by_class = problem.get_weights(sess)
        assert np.linalg.norm(by_class - w_0) > 1e-8, globalization  # a real step was taken
        np.testing.assert_allclose(by_model, by_class, rtol=1e-11, atol=1e-14, err_msg=str(globalization))
        assert model.optimizer.alpha == pytest.approx(direct.alpha, rel=1e-12)
        assert dict(model.optimizer.parameters.items()) == dict(direct.parameters.items())


def test_settings_read_the_optimizers_own_defaults():
    settings = HessianlearnModelSettings()
    lrsfn = ParametersLowRankSaddleFreeNewton()
    for key in ("spectral_step_alpha", "range_abs_error_tolerance", "range_block_size", "rq_samps"):
        assert settings[key] == lrsfn[key], key
    assert (lrsfn["spectral_step_alpha"], lrsfn["range_block_size"], lrsfn["rq_samps"],
            lrsfn["range_abs_error_tolerance"]) == (1e-2, 20, 100, 50)  # the original's values
    assert settings["line_search_alpha"] == line_search_parameters()["line_search_alpha"][0] == 1.0
    assert settings["alpha"] is None
    alphas = {name: resolve_optimizer(name)[1]()["alpha"] for name in ("adam", "sgd", "incg", "lrsfn")}
    assert alphas == {"adam": 1e-3, "sgd": 1e-3, "incg": 1.0, "lrsfn": 5e-2}
    with pytest.raises(ValueError, match="line_search_alpha"):
        HessianlearnModelSettings({"line_search_alpha": 0.0})
    assert changed_settings(HessianlearnModelSettings({"alpha": 0.1, "max_backtrack": 10})) == ["alpha"]


def test_gd_searches_from_the_unit_step_with_at_most_8_backtracks(float64):
    problem, _ = autoencoder()
    with tf.Session(graph=problem._graph) as sess:
        sess.run(tf.global_variables_initializer())
        opt = make_optimizer(HessianlearnModelSettings({"optimizer": "gd"}), problem, None, sess)
        assert (opt.parameters["globalization"], opt.parameters["max_backtrack"],
                opt.parameters["line_search_alpha"]) == ("line_search", 8, 1.0)


def test_line_searches_start_at_line_search_alpha_not_alpha(float64):
    problem, data = autoencoder()
    batch = next(data.train)
    with tf.Session(graph=problem._graph) as sess:
        sess.run(tf.global_variables_initializer())
        w_0 = problem.get_weights(sess)
        steps = {}
        for first in (1.0, 0.3):
            problem.set_weights(sess, w_0)
            opt = GradientDescent(problem, None, sess, parameters={
                "globalization": "line_search", "alpha": 1e-6, "line_search_alpha": first})
            info = opt.minimize(batch)
            assert info["accepted"]
            assert opt.alpha == first * 0.5 ** info["backtracks"]
            steps[first] = opt.alpha
    assert steps[1.0] > 1e-3  # the unit-step search takes far more than a 1e-6 (or 1e-3) step


# ---------------------------------------------------------------------------- item 2: warnings
UNUSED = [
    ({"optimizer": "lrsfn", "globalization": "line_search", "alpha": 0.1}, r"'alpha'.*'lrsfn'"),
    ({"optimizer": "incg", "globalization": "trust_region", "line_search_alpha": 0.5},
     r"'line_search_alpha'.*'incg'"),
    ({"optimizer": "adam", "hessian_low_rank": 5}, r"'hessian_low_rank'.*'adam'"),
    ({"optimizer": "gd", "max_backtrack": 5}, r"'max_backtrack'.*'gd'.*fixed to 8"),
    ({"optimizer": "lrsfn", "spectral_step_alpha": 0.5}, r"'spectral_step_alpha'.*'lrsfn'"),
    ({"optimizer": "lrsfn", "range_block_size": 5}, r"'range_block_size'.*'lrsfn'.*range_finding=None"),
]
USED = [
    {},
    {"optimizer": "incg", "alpha": 0.5},
    {"optimizer": "lrsfn", "globalization": "spectral_step", "spectral_step_alpha": 0.5},
    {"optimizer": "lrsfn", "range_finding": "arf", "range_block_size": 5},
    {"optimizer": "adam", "alpha": 1e-2, "record_spectrum": True, "rq_samps": 4},
    {"optimizer": "incg", "globalization": "line_search", "line_search_alpha": 0.5, "max_backtrack": 3},
    {"optimizer": "gd", "globalization": "line_search", "max_backtrack": 8},  # the row's own values
]


def test_changed_but_unused_settings_warn_and_used_or_default_ones_do_not(float64):
    problem, _ = autoencoder()
    with tf.Session(graph=problem._graph) as sess:
        sess.run(tf.global_variables_initializer())

        def messages(settings):
            s = HessianlearnModelSettings(settings)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                make_optimizer(s, problem, None, sess, changed=changed_settings(s))
            return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]

        for settings, match in UNUSED:
            found = messages(settings)
            assert len(found) == 1 and re.search(match, found[0]), (settings, found)
        for settings in USED:
            assert messages(settings) == [], settings


def test_fit_warns_for_an_unused_setting(float64):
    problem, data = autoencoder()
    model = HessianlearnModel(problem, None, data, settings={
        **QUIET, "optimizer": "sgd", "globalization": "line_search", "max_sweeps": 0.2})
    with pytest.warns(UserWarning, match=r"settings\['globalization'\].*'sgd'"):
        model.fit()


# ---------------------------------------------------------------------------- acceptance numbers
@pytest.mark.parametrize("name", ["gd", "incg", "lrsfn"])
def test_line_searches_lower_the_validation_loss_at_least_as_much_as_a_fixed_1e3_step(float64, name):
    problem, data = autoencoder()
    w_0 = initial_weights(problem)
    common = {**QUIET, "max_sweeps": 2.0}  # lrsfn: the default rank 20
    fixed = {"optimizer": "sgd" if name == "gd" else name, "alpha": 1e-3}
    searched = {"optimizer": name} if name == "gd" else {"optimizer": name, "globalization": "line_search"}
    results = {}
    for label, settings in (("fixed", fixed), ("line_search", searched)):
        logger = HessianlearnModel(problem, None, data, settings={**common, **settings}).fit(w_0)
        assert logger["sweeps"][max(logger["sweeps"])] >= 2.0
        results[label] = logger["val_loss"][0] - logger["val_loss"][max(logger["val_loss"])]
    assert results["fixed"] > 0
    assert results["line_search"] >= results["fixed"]


# ---------------------------------------------------------------------------- item 3: ArmijoLineSearch
def quadratic(w):
    """``f(w + s) = |w + s|^2 / 2`` as the original's ``cost_at_candidate(step)``."""
    return lambda step: 0.5 * float((w + step) @ (w + step))


@pytest.mark.parametrize("scale", [1.0, 3.0, 40.0])
def test_function_form_matches_the_search_object(scale):
    w = np.array([1.0, -2.0, 0.5])
    d = -scale * w  # an overshooting descent direction for scale > 2
    slope = float(d @ w)
    result = ArmijoLineSearch(d, slope, quadratic(w), 0.5 * float(w @ w))
    assert isinstance(result, ArmijoResult) and result.success and not result.line_search
    alpha, backtracks = ArmijoLineSearch(c1=1e-4, max_backtrack=9).search(
        lambda a: quadratic(w)(a * d), 0.5 * float(w @ w), slope, 1.0)
    assert result.alpha == alpha and result.iterations == backtracks + 1
    assert ArmijoLineSearch(w_dir=d, w_dir_inner_g=slope, cost_at_candidate=quadratic(w),
                            initial_cost=0.5 * float(w @ w), c_armijo=1e-4, alpha=1.0,
                            max_backtracking_iter=10, comm=None) == result


def test_function_form_failure_returns_the_original_values():
    w = np.array([1.0, 2.0])
    calls = []
    cost = lambda step: calls.append(step.copy()) or 10.0  # never decreases
    alpha, line_search, iterations = ArmijoLineSearch(-w, -5.0, cost, 2.5, alpha=2.0,
                                                      max_backtracking_iter=3)
    # three trials 2, 1, 0.5, then halved once more, as the original returns (and its callers apply)
    assert (alpha, line_search, iterations) == (0.25, True, 3)
    np.testing.assert_array_equal(np.array(calls), [-2.0 * w, -1.0 * w, -0.5 * w])
    assert ArmijoLineSearch(max_backtrack=2).search(lambda a: 10.0, 2.5, -5.0, 2.0) == (0.0, 2)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.ones(2), -1.0, 3.0, 1.0), {}, TypeError, "cost_at_candidate"),
    ((np.ones((2, 2)), -1.0, lambda s: 0.0, 1.0), {}, TypeError, "w_dir"),
    ((np.ones(2), "a", lambda s: 0.0, 1.0), {}, TypeError, "w_dir_inner_g"),
    ((np.ones(2), -1.0, lambda s: 0.0), {}, TypeError, "initial_cost"),
    ((np.ones(2), -1.0, lambda s: 0.0, 1.0), {"max_backtrack": 3}, TypeError, "max_backtrack"),
    ((np.ones(2), -1.0, lambda s: 0.0, 1.0), {"bogus": 3}, TypeError, "bogus"),
    ((np.ones(2), -1.0, lambda s: 0.0, 1.0, 1e-4, 1.0, 10, None, 1), {}, TypeError, "at most 8"),
    ((np.ones(2), -1.0, lambda s: 0.0, 1.0), {"alpha": 1.0, "w_dir": 1}, TypeError, "w_dir"),
    ((np.ones(2), -1.0, lambda s: 0.0, 1.0), {"max_backtracking_iter": 2.5}, TypeError,
     "max_backtracking_iter"),
    ((np.ones(2), -1.0, lambda s: 0.0, 1.0), {"c_armijo": 1.5}, ValueError, "c_armijo"),
    ((np.ones(2), -1.0, lambda s: 0.0, 1.0), {"alpha": 0.0}, ValueError, "alpha"),
])
def test_function_form_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ArmijoLineSearch(*args, **kwargs)


def test_search_object_form_still_rejects_unknown_keywords():
    with pytest.raises(TypeError, match="c2"):
        ArmijoLineSearch(c2=0.9)


def test_training_curves_do_not_repeat_the_iteration_zero_validation():
    from hessianlearn.utilities.plotting import plot_training_curves

    logger = {"sweeps": {0: 0.0, 1: 0.5, 2: 1.0}, "train_loss": {0: 2.0, 1: 1.0},
              "val_loss": {0: 2.5, 2: 0.9}, "initial_val_loss": 2.5}
    fig = plot_training_curves(logger, keys=("val_loss",))
    x, y = fig.axes[0].get_lines()[0].get_data()
    np.testing.assert_array_equal(x, [0.0, 1.0])
    np.testing.assert_array_equal(y, [2.5, 0.9])
