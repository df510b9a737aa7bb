"""Fast by default (issue 15): ``fused_step='auto'`` picks the fused graphs where they compute
the reference step, several first-order steps run per session call, and the graphs are built once.
"""
import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn.algorithms.adam import Adam
from hessianlearn.algorithms.gradient_descent import GradientDescent
from hessianlearn.algorithms.low_rank_saddle_free_newton import LowRankSaddleFreeNewton
from hessianlearn.data.data import Data
from hessianlearn.model import model as model_module
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.problem.autoencoder_problem import AutoencoderProblem
from hessianlearn.problem.fused_steps import fused_step
from hessianlearn.problem.regularization import L2Regularization

from test_fused_steps import _batches, _setup

QUIET = {"verbose": False, "save_logger": False}


def _autoencoder():
    """6-3-6 autoencoder (dW = 45); N = 160 training, 40 validation samples."""
    tf.set_random_seed(0)
    x_in = keras.Input((6,))
    hidden = keras.layers.Dense(3, activation="tanh")(x_in)
    problem = AutoencoderProblem(keras.Model(x_in, keras.layers.Dense(6)(hidden)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)) @ rng.standard_normal((2, 6)) / 2
    return problem, Data({problem.x: x}, 20, validation_data_size=40, hessian_batch_size=10)


# ---------------------------------------------------------------------------- the choice
@pytest.mark.parametrize("settings, fast", [
    ({"optimizer": "adam"}, True),
    ({"optimizer": "sgd", "alpha": 0.05}, True),
    ({"optimizer": "lrsfn", "hessian_low_rank": 4, "alpha": 0.1}, True),
    ({"optimizer": "lrsfn", "hessian_low_rank": 4, "globalization": "spectral_step"}, True),
    ({"optimizer": "lrsfn", "hessian_low_rank": 4, "globalization": "line_search"}, True),
    ({"optimizer": "lrsfn", "range_finding": "arf", "hessian_low_rank": 4}, False),
    ({"optimizer": "gd", "alpha": 0.5}, True),
    ({"optimizer": "gd", "alpha": 0.5, "fused_step": False}, False),
    ({"optimizer": "incg", "alpha": 0.5}, True),
    ({"optimizer": "incg", "alpha": 0.5, "globalization": "trust_region"}, True),
    ({"optimizer": "incg", "alpha": 0.5, "fused_step": False}, False),
    ({"optimizer": "adam", "fused_step": False}, False),
])
def test_default_settings_run_the_fast_path_where_it_exists(float64, settings, fast):
    """What ran, counted by the fused code itself: every step fused, or none."""
    problem, data = _autoencoder()
    model = HessianlearnModel(problem, None, data, settings={**QUIET, "max_sweeps": 2.0, **settings})
    logger = model.fit()
    steps = len(logger["train_loss"])
    assert steps >= 2 and np.all(np.isfinite(list(logger["train_loss"].values())))
    assert model.optimizer.fast_path_iterations == (steps if fast else 0)


def test_fused_step_bad_values_and_unsupported_true_raise(float64):
    problem, _, feed, sess = _setup()
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="'auto', True, False"):
            Adam(problem, sess=sess, parameters={"fused_step": bad})
    with pytest.raises(ValueError, match="range_finding 'arf'.*set fused_step 'auto'"):
        LowRankSaddleFreeNewton(problem, sess=sess, parameters={"fused_step": True,
                                                                "range_finding": "arf"})
    from hessianlearn.model.settings import HessianlearnModelSettings
    with pytest.raises(ValueError, match="settings\\['fused_step'\\]"):
        HessianlearnModelSettings({"fused_step": "fast"})
    problem, data = _autoencoder()
    model = HessianlearnModel(problem, None, data, settings={**QUIET, "optimizer": "lrsfn",
                                                             "range_finding": "vn", "fused_step": True})
    with pytest.raises(ValueError, match="LowRankSaddleFreeNewton has no fast path for range_finding 'vn'"):
        model.fit()


class _FakeComm:
    """Enough of an MPI communicator for the optimizer's set-up on one rank."""

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def bcast(self, value, root=0):
        return value

    def allgather(self, value):
        return [value]

    def allreduce(self, value, op=None):
        return value


def test_auto_under_mpi_uses_the_reference_path_with_a_note(float64):
    problem, _, _, sess = _setup()
    opt = Adam(problem, sess=sess, comm=_FakeComm())
    assert not opt.uses_fast_path and "MPI" in opt.fast_path_note
    assert Adam(problem, sess=sess).fast_path_note is None


# ---------------------------------------------------------------------------- parity
def test_fused_sgd_equals_the_reference_sgd(float64):
    problem, regularization, feed, sess = _setup(gamma=1e-2)
    w0 = problem.get_weights(sess)
    results = {}
    for fused in (False, True):
        problem.set_weights(sess, w0.copy())
        opt = GradientDescent(problem, regularization, sess, parameters={"alpha": 0.3,
                                                                          "fused_step": fused})
        infos = [opt.minimize(batch) for batch in _batches(feed, 4, 6, seed=1)]
        results[fused] = (problem.get_weights(sess), infos, opt.fast_path_iterations)
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-12, atol=1e-14)
    for a, b in zip(results[True][1], results[False][1]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-12)
        assert a["norm_g"] == pytest.approx(b["norm_g"], rel=1e-12)
    assert (results[True][2], results[False][2]) == (4, 0)


@pytest.mark.parametrize("alpha, max_backtrack", [(0.3, 10), (50.0, 10), (50.0, 1)])
@pytest.mark.parametrize("gamma", [None, 1e-2])
def test_fused_armijo_gradient_descent_equals_the_reference(float64, alpha, max_backtrack, gamma):
    # alpha: the first trial step (line_search_alpha)
    """The whole line search in one run: same accepted steps (or rejections), backtracks,
    sweeps and iterates as the reference search."""
    problem, regularization, feed, sess = _setup(gamma=gamma)
    w0 = problem.get_weights(sess)
    results = {}
    for fused in (False, True):
        problem.set_weights(sess, w0.copy())
        opt = GradientDescent(problem, regularization, sess, parameters={
            "line_search_alpha": alpha, "globalization": "line_search",
            "max_backtrack": max_backtrack, "fused_step": fused})
        infos = [opt.minimize(batch) for batch in _batches(feed, 3, 6, seed=9)]
        results[fused] = (problem.get_weights(sess), infos, opt.sweeps.copy(), opt.fast_path_iterations)
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-12, atol=1e-14)
    for a, b in zip(results[True][1], results[False][1]):
        assert (a["backtracks"], a["accepted"]) == (b["backtracks"], b["accepted"])
        assert a["alpha"] == pytest.approx(b["alpha"], rel=1e-15)
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-12)
    np.testing.assert_array_equal(results[True][2], results[False][2])
    assert (results[True][3], results[False][3]) == (3, 0)
    if max_backtrack == 1:  # 50 and 25 both fail: rejected, the weights stay
        assert not any(info["accepted"] for info in results[True][1])
        np.testing.assert_array_equal(results[True][0], w0)
    elif alpha == 50.0:
        assert all(info["backtracks"] > 0 for info in results[True][1])


@pytest.mark.parametrize("globalization", [None, "trust_region"])
def test_inexact_newton_cg_fast_path_equals_the_reference(float64, globalization):
    """'auto' runs CG's products at the captured point: the same iterates and sweeps."""
    from hessianlearn.algorithms.inexact_newton_cg import InexactNewtonCG
    problem, regularization, feed, sess = _setup(gamma=1e-3)
    w0 = problem.get_weights(sess)
    hess = list(_batches(feed, 3, 4, seed=7))
    runs = {}
    for fused in ("auto", False):
        problem.set_weights(sess, w0.copy())
        opt = InexactNewtonCG(problem, regularization, sess, parameters={
            "globalization": globalization, "cg_max_iter": 5, "fused_step": fused})
        for batch, h in zip(_batches(feed, 3, 6, seed=8), hess):
            opt.minimize(batch, h)
        runs[fused] = (problem.get_weights(sess) - w0, opt.sweeps.copy(), opt.fast_path_iterations)
    np.testing.assert_allclose(runs["auto"][0], runs[False][0], rtol=1e-10,
                               atol=1e-12 * np.abs(runs[False][0]).max())
    np.testing.assert_array_equal(runs["auto"][1], runs[False][1])
    assert (runs["auto"][2], runs[False][2]) == (3, 0)


@pytest.mark.parametrize("globalization, hessian_type, eta_mode, cg_max_iter, gamma", [
    (None, "hessian", 2, 10, 1e-3),           # Eisenstat-Walker 2, stops at the tolerance or curvature
    (None, "hessian", 1, 30, None),           # choice 1 reads the previous solve's residual
    ("line_search", "hessian", 0, 3, 1e-3),   # iteration limit; the host line search
    (None, "gauss_newton", 0, 4, 1e-2),
])
def test_in_graph_cg_equals_the_reference(float64, globalization, hessian_type, eta_mode,
                                         cg_max_iter, gamma):
    """``cg_in_graph`` (FusedNewtonCGStep): the numpy path's iterates, CG counts, stopping
    reasons, residuals and sweeps, to round-off."""
    from hessianlearn.algorithms.inexact_newton_cg import InexactNewtonCG
    problem, regularization, feed, sess = _setup(gamma=gamma)
    w0 = problem.get_weights(sess)
    runs = {}
    for in_graph in (True, False):
        problem.set_weights(sess, w0.copy())
        opt = InexactNewtonCG(problem, regularization, sess, parameters={
            "globalization": globalization, "hessian_type": hessian_type, "eta_mode": eta_mode,
            "cg_max_iter": cg_max_iter, "cg_coarse_tolerance": 1e-2, "alpha": 0.5,
            "cg_in_graph": in_graph, "fused_step": "auto" if in_graph else False})
        infos = [opt.minimize(batch, h) for batch, h in
                 zip(_batches(feed, 3, 6, seed=8), _batches(feed, 3, 4, seed=7))]
        runs[in_graph] = (problem.get_weights(sess) - w0, infos, opt.sweeps.copy(),
                          opt.last_solver_info, opt.fast_path_iterations)
    (dw, infos, sweeps, last, fast), (dw_ref, infos_ref, sweeps_ref, last_ref, fast_ref) = \
        runs[True], runs[False]
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-10, atol=1e-12 * np.abs(dw_ref).max())
    assert [(i["cg_iterations"], i["cg_reason"]) for i in infos] == \
        [(i["cg_iterations"], i["cg_reason"]) for i in infos_ref]
    np.testing.assert_array_equal(sweeps, sweeps_ref)
    assert last.residual_norm == pytest.approx(last_ref.residual_norm, rel=1e-8)
    # choice 1's forcing term reads the previous residual, itself equal to round-off
    assert (last.tolerance, last.relative_tolerance) == \
        pytest.approx((last_ref.tolerance, last_ref.relative_tolerance), rel=1e-10)
    assert (fast, fast_ref) == (3, 0)


def test_in_graph_cg_stops_at_first_negative_curvature_with_minus_g(float64):
    """Linear least squares on rank-1 data (``H`` PSD of rank 1) and ``g`` in its null
    space: ``d^T H d = 0`` at the first product, so CG stops there and returns ``-g``, as
    the numpy solver; a tolerance met at ``p = 0`` (``g = 0``) runs no product."""
    from hessianlearn.problem.fused_steps import CG_REASONS, fused_step
    from hessianlearn.problem.regression_problem import RegressionProblem
    x_in = keras.Input((3,))
    problem = RegressionProblem(keras.Model(x_in, keras.layers.Dense(1, use_bias=False)(x_in)))
    step = fused_step("newton_cg", problem, None)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(1)
    X = np.outer(rng.standard_normal(8), [1.0, 0.0, 0.0])  # H is a multiple of X^T X
    feed = {problem.x: X, problem.y_true: rng.standard_normal((8, 1))}
    g = np.array([0.0, 1.0, -2.0])  # in the null space of X^T X
    out = sess.run({k: v for k, v in step.fetches.items() if k != "update"} | {"p": step.direction},
                   step.feed(feed, g, tolerance=1e-12, max_iterations=10, alpha=1.0))
    assert (out["iterations"], CG_REASONS[out["reason"]]) == (1, "negative_curvature")
    np.testing.assert_array_equal(out["p"], -g)
    out = sess.run({"iterations": step.fetches["iterations"], "reason": step.fetches["reason"]},
                   step.feed(feed, np.zeros(3), tolerance=0.0, max_iterations=10, alpha=1.0))
    assert (out["iterations"], CG_REASONS[out["reason"]]) == (0, "tolerance")


def test_cg_in_graph_bad_values_raise(float64):
    from hessianlearn.algorithms.inexact_newton_cg import InexactNewtonCG
    problem, regularization, feed, sess = _setup(gamma=None)
    with pytest.raises(ValueError, match="'cg_in_graph' must be True or False"):
        InexactNewtonCG(problem, sess=sess, parameters={"cg_in_graph": "yes"})
    with pytest.raises(ValueError, match="trust_region.*set cg_in_graph False"):
        InexactNewtonCG(problem, sess=sess, parameters={"cg_in_graph": True,
                                                        "globalization": "trust_region"})
    with pytest.raises(ValueError, match="fused_step False.*set cg_in_graph False"):
        InexactNewtonCG(problem, sess=sess, parameters={"cg_in_graph": True, "fused_step": False})


@pytest.mark.parametrize("name, parameters", [
    ("adam", {"alpha": 1e-2, "beta_1": 0.8, "beta_2": 0.99}),
    ("sgd", {"alpha": 0.3}),
])
@pytest.mark.parametrize("gamma", [None, 1e-2])
def test_several_steps_per_run_give_the_one_step_iterates(float64, name, parameters, gamma):
    """``minimize_steps`` over 5 batches (one session call) against 5 ``minimize`` calls."""
    problem, regularization, feed, sess = _setup(gamma=gamma)
    cls = Adam if name == "adam" else GradientDescent
    w0 = problem.get_weights(sess)
    batches = list(_batches(feed, 7, 6, seed=5))
    runs = {}
    for grouped in (False, True):
        problem.set_weights(sess, w0.copy())
        opt = cls(problem, regularization, sess, parameters=parameters)
        opt.minimize(batches[0])
        if grouped:
            infos = opt.minimize_steps(batches[1:6]) + [opt.minimize(batches[6])]
        else:
            infos = [opt.minimize(b) for b in batches[1:]]
        runs[grouped] = (problem.get_weights(sess), infos, opt.iter, opt.sweeps.copy())
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=1e-12, atol=1e-14)
    assert runs[True][2:3] == runs[False][2:3] == (7,)
    np.testing.assert_array_equal(runs[True][3], runs[False][3])
    for a, b in zip(runs[True][1], runs[False][1]):
        assert a["iteration"] == b["iteration"]
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-12)
        assert a["norm_g"] == pytest.approx(b["norm_g"], rel=1e-12)


def test_a_non_finite_batch_stops_the_sequence_before_its_update(float64):
    problem, _, feed, sess = _setup()
    batches = list(_batches(feed, 4, 6, seed=6))
    batches[2] = {key: np.full_like(value, np.nan) for key, value in batches[2].items()}
    opt = GradientDescent(problem, sess=sess, parameters={"alpha": 0.1})
    reference = GradientDescent(problem, sess=sess, parameters={"alpha": 0.1, "fused_step": False})
    w0 = problem.get_weights(sess)
    for run in (reference, opt):
        problem.set_weights(sess, w0.copy())
        with pytest.raises(FloatingPointError):
            if run is opt:
                opt.minimize_steps(batches)
            else:
                for batch in batches:
                    run.minimize(batch)
        if run is reference:
            expected = problem.get_weights(sess)
    np.testing.assert_array_equal(problem.get_weights(sess), expected)
    assert len(opt.evaluations) == 2 and opt.iter == 2


def test_fit_with_steps_per_run_logs_every_iteration_as_one_step_per_run(float64):
    """Same logger series with 8 steps per call as with 1 (validation and printing where
    they were), and each call runs the steps of one group."""
    problem, data = _autoencoder()
    settings = {**QUIET, "optimizer": "adam", "alpha": 1e-2, "max_sweeps": 2.0,
                "validate_frequency": 0.5}
    loggers = {}
    for steps in (1, 8):
        loggers[steps] = HessianlearnModel(problem, None, data,
                                           settings={**settings, "steps_per_run": steps}).fit()
    one, many = loggers[1], loggers[8]
    assert len(one["train_loss"]) == len(many["train_loss"]) == 16
    for key in ("train_loss", "||g||", "val_loss", "train_acc"):
        assert one[key].keys() == many[key].keys(), key
        np.testing.assert_allclose(list(many[key].values()), list(one[key].values()), rtol=1e-12)
    assert one["sweeps"] == pytest.approx(many["sweeps"])
    assert sorted(many["val_loss"]) == [0, 4, 8, 12, 16]  # iterates w_0, w_4, ... (key i = w_i)


# ---------------------------------------------------------------------------- reproducibility
def test_same_seed_gives_identical_loggers_on_the_fast_path(float64):
    problem, data = _autoencoder()
    settings = {**QUIET, "optimizer": "lrsfn", "hessian_low_rank": 3, "oversample": 2,
                "alpha": 0.2, "max_sweeps": 1.0, "seed": 3}
    models = [HessianlearnModel(problem, None, data, settings=settings) for _ in range(2)]
    first, second = (model.fit() for model in models)
    assert models[1].optimizer.fast_path_iterations == len(second["train_loss"]) > 0
    for key in ("train_loss", "||g||", "sweeps", "alpha", "val_loss", "train_eigenvalues"):
        assert first[key].keys() == second[key].keys(), key
        for i in first[key]:
            np.testing.assert_array_equal(first[key][i], second[key][i])
    other = HessianlearnModel(problem, None, data, settings={**settings, "seed": 4}).fit()
    assert other["train_loss"][1] != first["train_loss"][1]


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_fits_with_and_without_the_compiled_draw_kernel_give_the_same_loggers(floatx, monkeypatch, tmp_path):
    """The default Gaussian test matrix: drawn by stateless_draws' C kernel here, by TensorFlow ops
    with HESSIANLEARN_NATIVE=0 (as on a host without a compiler or with a GPU): the same bits."""
    from hessianlearn.utilities import stateless_draws
    keras.backend.set_floatx(floatx)  # the fixture restores float32
    settings = {**QUIET, "optimizer": "lrsfn", "hessian_low_rank": 3, "oversample": 2,
                "alpha": 0.2, "max_sweeps": 1.0, "seed": 3}
    loggers, kernel_ops = [], []
    for native in ("1", "0"):
        monkeypatch.setattr(stateless_draws, "_state", {})
        monkeypatch.setenv("HESSIANLEARN_NATIVE", native)
        tf.reset_default_graph()  # the same initial weights from the same graph seed
        keras.backend.clear_session()
        problem, data = _autoencoder()
        before = set(problem._graph.get_operations())
        model = HessianlearnModel(problem, None, data, settings=settings)
        loggers.append(model.fit())
        assert model.optimizer.fast_path_iterations == len(loggers[-1]["train_loss"]) > 0
        kernel_ops.append([op for op in set(problem._graph.get_operations()) - before
                           if op.type == "PyFuncStateless"])
    assert kernel_ops[0] and not kernel_ops[1]
    for key in ("train_loss", "||g||", "alpha", "val_loss", "train_eigenvalues"):
        assert loggers[0][key].keys() == loggers[1][key].keys(), key
        for i in loggers[0][key]:
            np.testing.assert_array_equal(loggers[0][key][i], loggers[1][key][i], err_msg=f"{key} {i}")


def test_fast_lrsfn_draws_one_seed_pair_per_iteration_from_its_generator(float64):
    problem, _, feed, sess = _setup()
    opt = LowRankSaddleFreeNewton(problem, sess=sess, parameters={"hessian_low_rank": 3, "seed": 5})
    fresh = np.random.default_rng(5)
    for _ in range(2):
        opt.minimize(feed)
        fresh.integers(0, 2 ** 62, size=2, dtype=np.int64)
        assert opt.rng.bit_generator.state == fresh.bit_generator.state
    assert opt.fast_path_iterations == 2


def test_in_graph_gaussian_is_seeded_and_feeding_a_matrix_overrides_it(float64):
    """Same seed, same matrix; an explicit matrix is the one used (the parity route)."""
    problem, regularization, feed, sess = _setup(gamma=1e-3)
    step = fused_step("lrsfn", problem, regularization, rank=3, oversample=1)
    g = np.ones(problem.dimension)
    args = dict(alpha=1.0, gamma=1e-3, gamma_r=1e-3)
    values = [sess.run(step.fetches["eigenvalues"], step.feed(feed, g, seed, **args))
              for seed in ([1, 2], [1, 2], [1, 3])]
    np.testing.assert_array_equal(values[0], values[1])
    assert not np.array_equal(values[0], values[2])
    parts = sess.run(step.omega_parts, step.feed(feed, g, [1, 2], **args))
    omega = np.concatenate(parts, axis=1).T  # (n, m): the drawn matrix, fed back explicitly
    again = sess.run(step.fetches["eigenvalues"], step.feed(feed, g, omega, **args))
    np.testing.assert_allclose(again, values[0], rtol=1e-12)
    with pytest.raises(ValueError, match="omega must have shape"):
        step.feed(feed, g, omega[:, :2], **args)


@pytest.mark.parametrize("settings", [
    {"optimizer": "adam", "steps_per_run": 4},
    {"optimizer": "lrsfn", "hessian_low_rank": 4, "alpha": 0.02, "max_sweeps": 8.0},
    {"optimizer": "lrsfn", "hessian_low_rank": 3, "globalization": "line_search", "max_sweeps": 8.0},
    {"optimizer": "incg", "alpha": 0.2},
    {"optimizer": "gd", "alpha": 0.5},
])
@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_the_fit_sessions_graph_rewrites_give_the_default_rewrites_loggers(floatx, settings,
                                                                           monkeypatch):
    """One meta-optimizer round and no TFG pass change no result, bit for bit."""
    keras.backend.set_floatx(floatx)  # the fixture restores float32
    problem, data = _autoencoder()
    settings = {**QUIET, "max_sweeps": 1.0, **settings}
    model = HessianlearnModel(problem, None, data, settings=settings)
    ours = model.fit()
    rewrites = model.sess._config.graph_options.rewrite_options
    assert rewrites.meta_optimizer_iterations == rewrites.ONE and rewrites.disable_tfg_optimizer
    monkeypatch.setattr(model_module, "graph_rewrite_config", lambda config: config)
    model = HessianlearnModel(problem, None, data, settings=settings)
    default = model.fit()
    rewrites = model.sess._config.graph_options.rewrite_options
    assert rewrites.meta_optimizer_iterations != rewrites.ONE
    assert len(ours["train_loss"]) > 2
    for key in ("train_loss", "||g||", "alpha", "val_loss"):
        assert ours[key].keys() == default[key].keys(), key
        for i in ours[key]:
            np.testing.assert_array_equal(ours[key][i], default[key][i])


# ---------------------------------------------------------------------------- build once
def _ops(problem):
    return len(problem._graph.get_operations())


@pytest.mark.parametrize("settings", [
    {"optimizer": "adam", "steps_per_run": 4},
    {"optimizer": "lrsfn", "hessian_low_rank": 3, "alpha": 0.2},
    {"optimizer": "incg", "alpha": 0.2},  # its products at a point and the primed first product
])
def test_a_second_fit_builds_no_graph_ops_also_with_a_new_regularization(float64, settings):
    problem, data = _autoencoder()
    settings = {**QUIET, "max_sweeps": 1.0, **settings}
    HessianlearnModel(problem, L2Regularization(problem, 1e-3), data, settings=settings).fit()
    regularization = L2Regularization(problem, 1e-3)  # same gamma, new object
    before = _ops(problem)
    model = HessianlearnModel(problem, regularization, data, settings=settings)
    model.fit()
    assert _ops(problem) == before
    assert model.optimizer.fast_path_iterations > 0


def test_a_graph_with_random_draws_runs_one_step_per_call(float64):
    """A seeded random op copied into the loop would restart its stream: such problems fall
    back to one step per call (same iterates as minimize), and say so."""
    from hessianlearn.problem.regression_problem import RegressionProblem
    x_in = keras.Input((3,))
    noisy = keras.layers.Lambda(lambda t: t + 1e-3 * tf.random.normal(tf.shape(t), seed=3, dtype=t.dtype))(x_in)
    problem = RegressionProblem(keras.Model(x_in, keras.layers.Dense(2)(noisy)))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(0)
    batches = [{problem.x: rng.standard_normal((4, 3)), problem.y_true: rng.standard_normal((4, 2))}
               for _ in range(3)]
    opt = Adam(problem, sess=sess)
    assert opt.supports_step_sequences
    infos = opt.minimize_steps(batches)
    assert [info["iteration"] for info in infos] == [0, 1, 2] and len(opt.evaluations) == 3
    assert not opt.supports_step_sequences and opt.fast_path_iterations == 3
