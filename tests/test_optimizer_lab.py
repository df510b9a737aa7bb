"""The optimizer lab (AdaHessian, Sophia, L-BFGS, Hessian-free, K-FAC) on tiny float64 problems.

Convex quadratic: the linear least-squares problem of test_optimizers (optimum by
numpy.linalg.lstsq); the model runs use the 6-3-6 autoencoder and 4-5-3 classifier
of test_model.
"""
import numpy as np
import pytest

from cases import explicit_hessian, make_case, make_session
from hessianlearn.algorithms.adahessian import AdaHessian, ParametersAdaHessian
from hessianlearn.algorithms.hessian_free import HessianFree, ParametersHessianFree
from hessianlearn.algorithms.kfac import KFAC, ParametersKFAC
from hessianlearn.algorithms.lbfgs import LBFGS, ParametersLBFGS, two_loop_recursion
from hessianlearn.algorithms.sophia import ParametersSophia, Sophia
from hessianlearn.algorithms.weight_diagonal import hutchinson_weight_diagonal
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.model.optimizer_registry import make_optimizer, resolve_optimizer
from hessianlearn.model.settings import HessianlearnModelSettings
from hessianlearn.problem.gauss_newton_operator import GaussNewton
from hessianlearn import keras, tf
from hessianlearn.problem.classification_problem import ClassificationProblem
from hessianlearn.problem.regression_problem import RegressionProblem
from test_model import autoencoder, classifier
from test_optimizers import least_squares_optimum, linear_least_squares, relative_error

N_OUT_LS = 2  # outputs of the linear least-squares problem
QUIET = {"verbose": False, "save_logger": False, "save_weights": False}


def _run(opt, case, iterations):
    for _ in range(iterations):
        opt.minimize(case.feed)
    return case.problem.get_weights(case.sess)


# ---------------------------------------------------------------------- Hutchinson diagonal
def test_hutchinson_weight_diagonal_matches_exact_diagonal_within_three_standard_errors(float64):
    case = make_case("regression", "mlp")
    sess = make_session(case.problem)
    H = explicit_hessian(case.problem, sess, case.feed_dict)
    n = case.problem.dimension
    estimate, error = hutchinson_weight_diagonal(H, n, probes=400, seed=3)
    assert np.all(error > 0)
    assert np.all(np.abs(estimate - np.diag(H)) <= 3.0 * error)
    # the estimate is informative: its errors are well below the diagonal's spread
    assert np.median(error) < 0.2 * np.std(np.diag(H))
    again, _ = hutchinson_weight_diagonal(H, n, probes=400, seed=3)
    np.testing.assert_array_equal(estimate, again)


def test_hutchinson_weight_diagonal_spatial_average_and_absolute(float64):
    case = make_case("regression", "cnn")
    sess = make_session(case.problem)
    problem = case.problem
    H = explicit_hessian(problem, sess, case.feed_dict)
    n = problem.dimension
    kernel = next(d for d in problem.layer_descriptors.values() if len(d["shape"]) == 4)
    estimate, error = hutchinson_weight_diagonal(H, n, probes=400, seed=5,
                                                 layer_descriptors=problem.layer_descriptors,
                                                 spatial_average=True)
    exact = np.diag(H).copy()
    part = exact[kernel["slice"]].reshape(kernel["shape"])
    exact[kernel["slice"]] = np.broadcast_to(part.mean(axis=(0, 1), keepdims=True),
                                             part.shape).ravel()
    assert np.all(np.abs(estimate - exact) <= 3.0 * error)
    block = estimate[kernel["slice"]].reshape(kernel["shape"])
    np.testing.assert_allclose(block, np.broadcast_to(block[:1, :1], block.shape), rtol=1e-12)
    # absolute: one probe gives |z * Hz| = |Hz|
    magnitude, one_error = hutchinson_weight_diagonal(H, n, probes=1, seed=7, absolute=True)
    z = np.random.default_rng(7).choice(np.array([-1.0, 1.0]), size=(n, 1))
    np.testing.assert_allclose(magnitude, np.abs(H @ z).ravel(), rtol=1e-12)
    assert np.all(np.isnan(one_error))


def test_hutchinson_weight_diagonal_bad_input():
    with pytest.raises(ValueError, match="layer_descriptors"):
        hutchinson_weight_diagonal(np.eye(3), 3, spatial_average=True)
    with pytest.raises(ValueError, match="probes"):
        hutchinson_weight_diagonal(np.eye(3), 3, probes=0)


# ---------------------------------------------------------------------- AdaHessian
def test_adahessian_first_step_equals_hand_computed_update(float64):
    case = linear_least_squares()
    n = case.problem.dimension
    opt = AdaHessian(case.problem, sess=case.sess, parameters={"alpha": 0.1, "hessian_probes": 2,
                                                               "seed": 4})
    H = explicit_hessian(case.problem, case.sess, case.feed)
    g = case.sess.run(case.problem.gradient, case.feed)
    Z = np.random.default_rng(4).choice(np.array([-1.0, 1.0]), size=(n, 2))
    D = np.mean(np.abs(Z * (H @ Z)), axis=1)
    m_hat, v_hat = g, D * D  # bias-corrected first moments equal the first samples
    expected = case.w0 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-4)
    opt.minimize(case.feed)
    np.testing.assert_allclose(case.problem.get_weights(case.sess), expected, rtol=1e-10)
    np.testing.assert_allclose(opt.diagonal, D, rtol=1e-10)
    np.testing.assert_array_equal(opt.sweeps, [1.0, 2.0])


def test_adahessian_reaches_least_squares_optimum(float64):
    case = linear_least_squares()
    opt = AdaHessian(case.problem, sess=case.sess, parameters={"alpha": 0.3, "hessian_probes": 4})
    w = _run(opt, case, 400)
    assert relative_error(w, least_squares_optimum()) < 1e-3
    np.testing.assert_array_equal(opt.sweeps, [400.0, 1600.0])


def test_adahessian_averages_the_diagonal_over_conv_kernels(float64):
    case = make_case("regression", "cnn")
    problem = case.problem
    sess = make_session(problem)
    kernel = next(d for d in problem.layer_descriptors.values() if len(d["shape"]) == 4)
    for spatial in (True, False):
        opt = AdaHessian(problem, sess=sess, parameters={"spatial_average": spatial})
        opt.minimize(case.feed_dict)
        block = opt.diagonal[kernel["slice"]].reshape(kernel["shape"])
        constant = np.allclose(block, np.broadcast_to(block[:1, :1], block.shape), rtol=1e-12)
        assert constant is spatial


# ---------------------------------------------------------------------- Sophia
def test_sophia_steps_equal_hand_computed_updates(float64):
    case = linear_least_squares()
    n = case.problem.dimension
    parameters = {"alpha": 0.05, "gamma": 0.5, "hessian_frequency": 2, "weight_decay": 0.1,
                  "seed": 2}
    opt = Sophia(case.problem, sess=case.sess, parameters=parameters)
    H = explicit_hessian(case.problem, case.sess, case.feed)
    rng = np.random.default_rng(2)
    w, m, h = case.w0.copy(), np.zeros(n), np.zeros(n)
    for t in range(3):
        g = case.sess.run(case.problem.gradient, {**case.feed})
        opt.minimize(case.feed)
        m = 0.96 * m + 0.04 * g
        if t % 2 == 0:
            z = rng.choice(np.array([-1.0, 1.0]), size=(n, 1))
            h = 0.99 * h + 0.01 * (z * (H @ z)).ravel()
        ratio = np.clip(m / np.maximum(0.5 * h, 1e-12), -1.0, 1.0)
        w = (1.0 - 0.05 * 0.1) * w - 0.05 * ratio
        np.testing.assert_allclose(case.problem.get_weights(case.sess), w, rtol=1e-10, atol=1e-14)
    # refreshes at t = 0 and 2: one probe each
    np.testing.assert_array_equal(opt.sweeps, [3.0, 2.0])


def test_sophia_reaches_least_squares_optimum(float64):
    case = linear_least_squares()
    opt = Sophia(case.problem, sess=case.sess, parameters={
        "alpha": 0.2, "gamma": 1.0, "beta_1": 0.5, "hessian_frequency": 1, "hessian_probes": 8})
    w = _run(opt, case, 300)
    assert relative_error(w, least_squares_optimum()) < 1e-3
    np.testing.assert_array_equal(opt.sweeps, [300.0, 2400.0])


# ---------------------------------------------------------------------- L-BFGS
def test_two_loop_recursion_equals_the_explicit_bfgs_inverse(float64):
    rng = np.random.default_rng(0)
    n = 6
    M = rng.standard_normal((n, n))
    A = M @ M.T + n * np.eye(n)
    pairs = [(s, A @ s) for s in rng.standard_normal((4, n))]
    s, y = pairs[-1]
    Hinv = (s @ y) / (y @ y) * np.eye(n)
    for s, y in pairs:  # BFGS updates of the inverse, oldest first
        rho = 1.0 / (s @ y)
        V = np.eye(n) - rho * np.outer(y, s)
        Hinv = V.T @ Hinv @ V + rho * np.outer(s, s)
    g = rng.standard_normal(n)
    np.testing.assert_allclose(two_loop_recursion(g, pairs), Hinv @ g, rtol=1e-12)
    np.testing.assert_array_equal(two_loop_recursion(g, []), g)


def test_lbfgs_reaches_least_squares_optimum_and_counts_sweeps(float64):
    case = linear_least_squares()
    opt = LBFGS(case.problem, sess=case.sess)
    trials = 0
    for k in range(12):  # converged to round-off (relative error ~1e-12) after 10 steps
        info = opt.minimize(case.feed)
        trials += info["backtracks"] + 1
        assert k >= 10 or info["accepted"] and (k < 1 or info["pair_stored"])
    assert relative_error(case.problem.get_weights(case.sess), least_squares_optimum()) < 1e-10
    assert len(opt.pairs) == 10  # memory 10
    # same batch every step: y from the next step's gradient, no extra evaluation
    np.testing.assert_allclose(opt.sweeps, [12 + 0.5 * trials, 0.0])


def test_lbfgs_new_batch_costs_one_gradient_for_y_and_skips_bad_pairs(float64):
    case = linear_least_squares()
    x, y = case.feed[case.problem.x], case.feed[case.problem.y_true]
    halves = [{case.problem.x: x[:12], case.problem.y_true: y[:12]},
              {case.problem.x: x[12:], case.problem.y_true: y[12:]}]
    opt = LBFGS(case.problem, sess=case.sess)
    trials = 0
    for k in range(4):
        trials += opt.minimize(halves[k % 2])["backtracks"] + 1
    np.testing.assert_allclose(opt.sweeps, [4 + 0.5 * trials + 3, 0.0])
    # a pair with s^T y <= 0 is skipped and H stays as it was
    g = case.sess.run(case.problem.gradient, case.feed)
    s = -g / np.linalg.norm(g)
    opt._pending = (s, g + 5.0 * s, dict(case.feed))
    before = len(opt.pairs)
    assert opt._store_pair(case.feed, g) is False  # y = -5 s: s^T y = -5 < 0
    assert len(opt.pairs) == before and opt.skipped_pairs == 1


# ---------------------------------------------------------------------- Hessian-free
def test_hessian_free_reaches_least_squares_optimum_with_exact_model(float64):
    case = linear_least_squares()
    opt = HessianFree(case.problem, sess=case.sess, parameters={"cg_max_iter": 4})
    assert isinstance(opt.H, GaussNewton)
    dampings = []
    for _ in range(16):
        info = opt.minimize(case.feed)
        dampings.append(info["damping"])
        if len(dampings) <= 3:  # quadratic loss and G = H: the model is exact, rho = 1
            assert info["rho"] == pytest.approx(1.0, abs=1e-8)
            assert info["accepted"] and info["backtracks"] == 0
    np.testing.assert_allclose(dampings[:4], [1.0, 2 / 3, 4 / 9, 8 / 27], rtol=1e-12)
    assert relative_error(case.problem.get_weights(case.sess), least_squares_optimum()) < 1e-8


def test_hessian_free_sweeps_count_every_gauss_newton_product(float64):
    from test_optimizers import tanh_mlp
    case = tanh_mlp()
    opt = HessianFree(case.problem, sess=case.sess, parameters={"cg_max_iter": 12})
    expected = np.zeros(2)
    warm_starts = 0
    for _ in range(4):
        info = opt.minimize(case.feed)
        last = info["cg_kept_iterates"] - 1
        index = info["cg_iterate"]
        backtracking = 1 + (last - index) + (1 if index > 0 else 0)
        armijo = info["backtracks"] + (1 if info["steepest_descent_fallback"] else 0)
        expected += [1 + 0.5 * (backtracking + armijo),
                     info["cg_iterations"] + info["cg_warm_start_product"]]
        warm_starts += info["cg_warm_start_product"]
    np.testing.assert_allclose(opt.sweeps, expected)
    assert warm_starts == 3  # every step after the first
    case_loss = case.loss()
    case.reset()
    assert case_loss < 0.9 * case.loss()


@pytest.mark.parametrize("kind", ["gan_cross_entropy", "vae_least_squares", "h1"])
def test_hessian_free_without_gauss_newton_form_raises_the_operators_error(float64, kind):
    case = make_case(kind, "mlp")
    sess = make_session(case.problem)
    with pytest.raises(NotImplementedError) as expected:
        GaussNewton(case.problem, sess)
    with pytest.raises(NotImplementedError) as raised:
        HessianFree(case.problem, sess=sess)
    assert str(raised.value) == str(expected.value)
    settings = HessianlearnModelSettings({"optimizer": "hessian_free"})
    with pytest.raises(NotImplementedError, match="Gauss-Newton"):
        make_optimizer(settings, case.problem, None, sess)


# ---------------------------------------------------------------------- K-FAC
def _session(problem):
    sess = tf.Session(graph=problem._graph)
    with problem._graph.as_default():
        sess.run(tf.global_variables_initializer())
    return sess


def _explicit_gauss_newton(problem, sess, feed):
    """J^T H_L J column by column (GNdw, checked against explicit J^T H_L J in test_gauss_newton)."""
    G = GaussNewton(problem, sess)
    return np.stack([G(e, feed) for e in np.eye(problem.dimension)], axis=1)


def _kfac_problem(kind, samples=1):
    """One-sample problems where K-FAC's diagonal blocks are exact: dense MLP, single conv."""
    rng = np.random.default_rng(11)
    init = {"kernel_initializer": keras.initializers.GlorotNormal(seed=1),
            "bias_initializer": keras.initializers.RandomNormal(stddev=0.3, seed=2)}
    if kind == "conv":  # the kernel covers the whole 3 x 3 image: one output position
        x_in = keras.Input((3, 3, 2))
        h = keras.layers.Conv2D(2, 3, activation="tanh", **init)(x_in)
        z = keras.layers.Dense(2, **init)(keras.layers.Flatten()(h))
        problem = RegressionProblem(keras.Model(x_in, z))
        feed = {problem.x: rng.standard_normal((samples, 3, 3, 2)),
                problem.y_true: rng.standard_normal((samples, 2))}
    else:
        x_in = keras.Input((3,))
        h = keras.layers.Dense(4, activation="tanh", **init)(x_in)
        z = keras.layers.Dense(3, **init)(h)
        if kind == "regression":
            problem = RegressionProblem(keras.Model(x_in, z))
            y = rng.standard_normal((samples, 3))
        else:
            problem = ClassificationProblem(keras.Model(x_in, z), loss_type=kind)
            y = np.eye(3)[rng.integers(0, 3, samples)]
        feed = {problem.x: rng.standard_normal((samples, 3)), problem.y_true: y}
    return problem, feed


@pytest.mark.parametrize("kind", ["regression", "cross_entropy", "mixed", "conv"])
def test_kfac_blocks_equal_the_exact_gauss_newton_blocks_for_one_sample(float64, kind):
    problem, feed = _kfac_problem(kind)
    sess = _session(problem)
    opt = KFAC(problem, sess=sess, parameters={"fisher": "exact"})
    assert [layer.kind for layer in opt.layers] == (["Conv2D", "Dense"] if kind == "conv"
                                                    else ["Dense", "Dense"])
    G = _explicit_gauss_newton(problem, sess, feed)
    factors = opt.batch_factors(feed)
    for layer, (A, Gf) in zip(opt.layers, factors):
        block = G[layer.block, layer.block]
        np.testing.assert_allclose(np.kron(A, Gf), block, rtol=1e-10, atol=1e-13 * np.abs(block).max())
    outputs = 2 if kind == "conv" else 3
    assert opt.sweeps[1] == outputs * (2 if kind == "mixed" else 1)  # one pass per output entry


def test_kfac_patches_reproduce_the_weight_gradient_of_strided_padded_convolutions(float64):
    from hessianlearn.problem.kfac_factors import kfac_factors
    rng = np.random.default_rng(2)
    x_in = keras.Input((5, 6, 2))
    h = keras.layers.Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation="softplus")(x_in)
    h = keras.layers.Conv2D(2, 2, dilation_rate=2, use_bias=False, activation="tanh")(h)
    z = keras.layers.Dense(2)(keras.layers.Flatten()(h))
    problem = RegressionProblem(keras.Model(x_in, z))
    feed = {problem.x: rng.standard_normal((3, 5, 6, 2)), problem.y_true: rng.standard_normal((3, 2))}
    sess = _session(problem)
    graph = kfac_factors(problem)
    ds = tf.gradients(problem.loss, graph.pre_activations)
    patches, ds, g = sess.run([graph.patches, ds, problem.gradient], feed)
    for layer, a, d in zip(graph.layers, patches, ds):
        expected = g[layer.block].reshape(layer.rows, layer.columns)
        np.testing.assert_allclose(a.T @ d.reshape(-1, layer.columns), expected, rtol=1e-10,
                                   atol=1e-14)
    assert [(layer.kind, layer.rows) for layer in graph.layers] == [
        ("Conv2D", 3 * 2 * 2 + 1), ("Conv2D", 2 * 2 * 3), ("Dense", 1 * 4 * 2 + 1)]  # 5x6 -> 3x6 -> 1x4


def test_kfac_sampled_factor_is_unbiased(float64):
    problem, feed = _kfac_problem("cross_entropy", samples=3)
    sess = _session(problem)
    exact = KFAC(problem, sess=sess, parameters={"fisher": "exact"}).batch_factors(feed)
    sampled = KFAC(problem, sess=sess, parameters={"seed": 5})
    draws = [sampled.batch_factors(feed) for _ in range(400)]
    for i, (A, Gf) in enumerate(exact):
        np.testing.assert_allclose(draws[0][i][0], A, rtol=1e-12)  # A does not depend on the noise
        mean = np.mean([d[i][1] for d in draws], axis=0)
        assert np.abs(mean - Gf).max() < 0.15 * np.abs(Gf).max()
    assert np.abs(draws[0][1][1] - Gf).max() > 0.01 * np.abs(Gf).max()  # one draw is not exact


def test_kfac_is_newton_on_linear_least_squares(float64):
    # one Dense layer, MSE: A kron G is the exact Gauss-Newton matrix (= Hessian) for any batch
    case = linear_least_squares()
    # factored damping adds ~sqrt(lambda) to the factors' eigenvalues: lambda 1e-14 -> ~1e-7
    opt = KFAC(case.problem, sess=case.sess, parameters={"fisher": "exact", "damping": 1e-14})
    H = explicit_hessian(case.problem, case.sess, case.feed)
    (A, Gf), = opt.batch_factors(case.feed)
    np.testing.assert_allclose(np.kron(A, Gf), H, rtol=1e-10, atol=1e-14)
    info = opt.minimize(case.feed)
    assert opt.alpha == pytest.approx(1.0, abs=1e-5)  # the model's step is the Newton step
    assert relative_error(case.problem.get_weights(case.sess), least_squares_optimum()) < 1e-6
    info = opt.minimize(case.feed)
    assert relative_error(case.problem.get_weights(case.sess), least_squares_optimum()) < 1e-10
    # exact factors: N_OUT passes per step, one C Delta product, rho evaluated at step 0 only
    np.testing.assert_allclose(opt.sweeps, [2.5, 2 * (N_OUT_LS + 1) + N_OUT_LS])
    assert "rho" not in info


def test_kfac_sampled_reaches_least_squares_neighbourhood(float64):
    case = linear_least_squares()
    opt = KFAC(case.problem, sess=case.sess, parameters={"damping": 1e-3})
    w = _run(opt, case, 30)
    assert relative_error(w, least_squares_optimum()) < 1e-2
    np.testing.assert_allclose(opt.sweeps, [30 + 0.5 * 6, 60])  # rho at steps 0, 5, ..., 25


def test_kfac_without_supported_layers_names_them(float64):
    x_in = keras.Input((4, 1))
    z = keras.layers.Flatten()(keras.layers.Conv1D(2, 2)(x_in))
    problem = RegressionProblem(keras.Model(x_in, z))
    sess = _session(problem)
    with pytest.raises(ValueError, match="supports Dense, Conv2D layers.*Conv1D"):
        KFAC(problem, sess=sess)


def test_kfac_feed_without_data_raises(float64):
    case = linear_least_squares()
    with pytest.raises(ValueError, match="no data batch"):
        KFAC(case.problem, sess=case.sess).batch_factors({})


def test_kfac_without_gauss_newton_form_raises_the_operators_error(float64):
    case = make_case("vae_least_squares", "mlp")
    sess = make_session(case.problem)
    with pytest.raises(NotImplementedError) as expected:
        GaussNewton(case.problem, sess)
    with pytest.raises(NotImplementedError) as raised:
        KFAC(case.problem, sess=sess)
    assert str(raised.value) == str(expected.value)


# ---------------------------------------------------------------------- through HessianlearnModel
#: name -> (model settings, optimizer parameters) for the 6-3-6 autoencoder and the 4-5-3
#: classifier (45 and 43 weights)
MODEL_SETTINGS = {
    "adahessian": ({"alpha": 0.1}, {}),
    "sophia": ({"alpha": 0.02}, {}),
    "lbfgs": ({}, {}),
    "hessian_free": ({}, {"cg_max_iter": 10}),
    "kfac": ({}, {"damping": 0.1}),
}


def _fit(problem, data, name, max_sweeps=1, **settings):
    model_settings, parameters = MODEL_SETTINGS[name]
    model = HessianlearnModel(problem, None, data, settings={
        **QUIET, "optimizer": name, "max_sweeps": max_sweeps, **model_settings, **settings})
    model.set_optimizer(name, parameters)
    return model.fit()
#: Sophia's first steps are clipped sign steps (its diagonal average starts at 0.01 h), the same
#: for every probe seed; L-BFGS and Hessian-free draw no random numbers.
SEED_SENSITIVE = ("adahessian", "kfac")


@pytest.mark.parametrize("make", [autoencoder, classifier], ids=["autoencoder", "classifier"])
@pytest.mark.parametrize("name", list(MODEL_SETTINGS))
def test_lab_optimizer_lowers_the_validation_loss(float64, make, name):
    problem, data = make()
    logger = _fit(problem, data, name, max_sweeps=2)
    assert logger["status"] == "max_sweeps"
    assert np.isfinite(list(logger["train_loss"].values())).all()
    assert min(logger["val_loss"].values()) < 0.9 * logger["initial_val_loss"]


@pytest.mark.parametrize("name", list(MODEL_SETTINGS))
def test_lab_optimizer_same_seed_identical_loggers_new_graph_too(float64, name):
    problem, data = autoencoder()
    a = _fit(problem, data, name)
    with tf.Graph().as_default():
        problem2, data2 = autoencoder()
        b = _fit(problem2, data2, name)
    for key in ("train_loss", "||g||", "sweeps", "alpha", "val_loss"):
        assert a[key] == b[key], key
    if name in SEED_SENSITIVE:  # the seed draws the probes, and they change the steps
        assert _fit(problem, data, name, seed=1)["train_loss"] != a["train_loss"]


def test_registry_names_and_unknown_name_lists_them():
    for name, cls in [("adahessian", AdaHessian), ("sophia", Sophia), ("lbfgs", LBFGS),
                      ("hessian_free", HessianFree), ("kfac", KFAC)]:
        assert resolve_optimizer(name)[0] is cls
    with pytest.raises(ValueError, match="'adahessian'.*'sophia'.*'lbfgs'.*'hessian_free'.*'kfac'"):
        resolve_optimizer("adahesian")
    from hessianlearn.model.settings import validate_settings
    with pytest.raises(ValueError, match="'adahessian'.*'kfac'"):
        validate_settings(HessianlearnModelSettings({"optimizer": "k-fac"}))


def test_settings_reach_the_lab_optimizers(float64):
    case = linear_least_squares()
    settings = HessianlearnModelSettings({"optimizer": "sophia", "alpha": 0.5, "seed": 3})
    opt = make_optimizer(settings, case.problem, None, case.sess, parameters={"gamma": 2.0})
    assert isinstance(opt, Sophia)
    assert opt.parameters["alpha"] == 0.5 and opt.parameters["seed"] == 3
    assert opt.parameters["gamma"] == 2.0 and ParametersSophia()["gamma"] == 0.01
    # the defaults
    a = ParametersAdaHessian()
    assert (a["beta_1"], a["beta_2"], a["epsilon"], a["hessian_power"], a["hessian_probes"]) == \
        (0.9, 0.999, 1e-4, 1.0, 1)
    s = ParametersSophia()
    assert (s["beta_1"], s["beta_2"], s["hessian_frequency"]) == (0.96, 0.99, 10)
    assert ParametersLBFGS()["memory"] == 10
    assert ParametersHessianFree()["cg_warm_start"] == 0.95
    assert ParametersHessianFree()["hessian_type"] == ParametersKFAC()["hessian_type"] == "gauss_newton"
    assert ParametersKFAC()["factor_decay"] == 0.95


@pytest.mark.parametrize("cls, key, value", [
    (AdaHessian, "beta_2", 1.0), (AdaHessian, "hessian_power", 1.5),
    (AdaHessian, "hessian_probes", 0), (AdaHessian, "spatial_average", "yes"),
    (Sophia, "gamma", 0.0), (Sophia, "hessian_frequency", 0), (Sophia, "weight_decay", -1.0),
    (LBFGS, "memory", 0),
    (HessianFree, "damping", 0.0), (HessianFree, "cg_warm_start", 1.5),
    (HessianFree, "cg_iterate_ratio", 1.0), (HessianFree, "cg_max_iter", 0),
    (KFAC, "damping", -1.0), (KFAC, "factor_decay", 1.0), (KFAC, "fisher", "empirical"),
    (KFAC, "inverse_frequency", 0),
])
def test_lab_optimizers_bad_parameters_name_the_key(float64, cls, key, value):
    case = linear_least_squares()
    with pytest.raises(ValueError, match=key):
        cls(case.problem, sess=case.sess, parameters={key: value})
