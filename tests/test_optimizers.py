"""Optimizers on tiny float64 problems: exact optima, hand-computed updates, bookkeeping."""
import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn.algorithms.adam import Adam, ParametersAdam
from hessianlearn.algorithms.gradient_descent import GradientDescent, ParametersGradientDescent
from hessianlearn.algorithms.inexact_newton_cg import InexactNewtonCG
from hessianlearn.algorithms.inexact_newton_gmres import InexactNewtonGMRES
from hessianlearn.algorithms.inexact_newton_minres import InexactNewtonMINRES
from hessianlearn.algorithms.low_rank_hessian import low_rank_hessian
from hessianlearn.algorithms.low_rank_saddle_free_newton import LowRankSaddleFreeNewton
from hessianlearn.algorithms.optimizer import NonFiniteError
from hessianlearn.problem.classification_problem import ClassificationProblem
from hessianlearn.problem.regression_problem import RegressionProblem
from hessianlearn.problem.regularization import L2Regularization

N_IN, N_OUT, N_SAMPLES = 3, 2, 24


class Case:
    """A problem, its session, a batch and the initial weights."""

    def __init__(self, problem, feed, regularization=None):
        self.problem = problem
        self.feed = feed
        self.regularization = regularization
        self.sess = tf.Session()
        self.sess.run(tf.global_variables_initializer())
        self.w0 = problem.get_weights(self.sess)

    def loss(self):
        value = self.sess.run(self.problem.loss, self.feed)
        if self.regularization is not None:
            value += self.sess.run(self.regularization.cost)
        return value

    def reset(self):
        # A copy: TensorFlow may alias a fed array into the variables (see set_weights).
        self.problem.set_weights(self.sess, self.w0.copy())


def _linear_data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N_SAMPLES, N_IN))
    Y = X @ rng.standard_normal((N_IN, N_OUT)) + 0.3 + 0.1 * rng.standard_normal((N_SAMPLES, N_OUT))
    return X, Y


def linear_least_squares(gamma=None):
    X, Y = _linear_data()
    model = keras.Sequential([keras.layers.Dense(N_OUT, input_shape=(N_IN,))])
    problem = RegressionProblem(model, hessian_block_size=4)
    regularization = None if gamma is None else L2Regularization(problem, gamma)
    return Case(problem, {problem.x: X, problem.y_true: Y}, regularization)


def least_squares_optimum(gamma=0.0):
    """Flat weights (kernel row-major, then bias) minimizing mean sq. error + gamma/2 ||w||^2."""
    X, Y = _linear_data()
    A = np.hstack([X, np.ones((N_SAMPLES, 1))])
    if gamma == 0.0:
        C = np.linalg.lstsq(A, Y, rcond=None)[0]
    else:
        scale = 2.0 / (N_SAMPLES * N_OUT)
        C = np.linalg.solve(scale * A.T @ A + gamma * np.eye(N_IN + 1), scale * A.T @ Y)
    return C.ravel()


def tanh_mlp():
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (32, 2))
    Y = np.sin(2 * X[:, :1]) * X[:, 1:]
    model = keras.Sequential([keras.layers.Dense(4, activation="tanh", input_shape=(2,)),
                              keras.layers.Dense(1)])
    problem = RegressionProblem(model, hessian_block_size=5)
    return Case(problem, {problem.x: X, problem.y_true: Y})


def small_classifier():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((30, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 0] > 1).astype(int)
    Y = np.eye(3)[labels]
    model = keras.Sequential([keras.layers.Dense(3, activation="tanh", input_shape=(2,)),
                              keras.layers.Dense(3)])
    problem = ClassificationProblem(model, hessian_block_size=5)
    return Case(problem, {problem.x: X, problem.y_true: Y})


def relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# ---------------------------------------------------------------------- exact optima
def test_full_rank_lrsfn_reaches_least_squares_optimum(float64):
    case = linear_least_squares()
    n = case.problem.dimension
    opt = LowRankSaddleFreeNewton(case.problem, sess=case.sess, parameters={
        "alpha": 1.0, "hessian_low_rank": n, "oversample": 0, "default_damping": 1e-7})
    w_star = least_squares_optimum()
    errors = []
    for _ in range(3):
        opt.minimize(case.feed)
        errors.append(relative_error(case.problem.get_weights(case.sess), w_star))
    assert errors[-1] < 1e-6
    assert opt.rank == n and opt.eigenvalues.shape == (n,)
    # Eigenvalues of the least-squares Hessian (2/(N m)) I_m kron A^T A, sorted by magnitude.
    X, _ = _linear_data()
    A = np.hstack([X, np.ones((N_SAMPLES, 1))])
    expected = np.sort(np.repeat(np.linalg.eigvalsh(2.0 / (N_SAMPLES * N_OUT) * A.T @ A), N_OUT))[::-1]
    np.testing.assert_allclose(opt.eigenvalues, expected, rtol=1e-10)


def test_lrsfn_with_regularization_reaches_ridge_optimum(float64):
    gamma = 1e-2
    case = linear_least_squares(gamma=gamma)
    n = case.problem.dimension
    opt = LowRankSaddleFreeNewton(case.problem, case.regularization, case.sess, parameters={
        "alpha": 1.0, "hessian_low_rank": n, "oversample": 0})
    assert opt.damping == gamma
    opt.minimize(case.feed)  # H includes gamma I; the step is the exact regularized Newton step
    assert relative_error(case.problem.get_weights(case.sess), least_squares_optimum(gamma)) < 1e-10
    assert opt.last_evaluation["loss"] == pytest.approx(
        opt.last_evaluation["data_loss"] + 0.5 * gamma * case.w0 @ case.w0, rel=1e-12)


def test_inexact_newton_cg_reaches_least_squares_optimum(float64):
    case = linear_least_squares()
    opt = InexactNewtonCG(case.problem, sess=case.sess, parameters={
        "alpha": 1.0, "eta_mode": 0, "cg_coarse_tolerance": 1e-12, "cg_max_iter": 50})
    w_star = least_squares_optimum()
    for _ in range(3):
        info = opt.minimize(case.feed)
    assert relative_error(case.problem.get_weights(case.sess), w_star) < 1e-6
    assert info["cg_reason"] == "tolerance"


@pytest.mark.parametrize("cls", [InexactNewtonGMRES, InexactNewtonMINRES])
def test_gmres_minres_newton_steps_agree_with_cg_on_spd(float64, cls):
    case = linear_least_squares(gamma=1e-3)
    tight = {"alpha": 1.0, "eta_mode": 0, "cg_coarse_tolerance": 1e-13, "cg_max_iter": 100}
    cg = InexactNewtonCG(case.problem, case.regularization, case.sess, parameters=tight)
    cg.minimize(case.feed)
    w_cg = case.problem.get_weights(case.sess)
    case.reset()
    other = cls(case.problem, case.regularization, case.sess, parameters={
        "alpha": 1.0, "krylov_rel_tolerance": 1e-13, "krylov_max_iter": 100})
    info = other.minimize(case.feed)
    assert info["krylov_reason"] == "tolerance"
    np.testing.assert_allclose(case.problem.get_weights(case.sess) - case.w0, w_cg - case.w0,
                               rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("cls, parameters", [
    (InexactNewtonCG, {"globalization": "trust_region", "cg_max_iter": 6}),
    (InexactNewtonCG, {"globalization": "line_search", "hessian_type": "gauss_newton"}),
    (InexactNewtonGMRES, {"krylov_max_iter": 6}),
    (InexactNewtonMINRES, {"krylov_max_iter": 6}),
], ids=["cg-trust-region", "cg-gauss-newton", "gmres", "minres"])
def test_hessian_at_point_gives_the_same_iterates_and_sweeps(float64, cls, parameters):
    """Products on the captured point are the same products: three steps agree to round-off."""
    case = small_classifier()
    hessian_batch = {key: value[:20] for key, value in case.feed.items()}
    for hessian_feed in (None, hessian_batch):  # captured with the gradient / in a run of its own
        runs = []
        for at_point in (False, True):
            case.reset()
            opt = cls(case.problem, sess=case.sess,
                      parameters={**parameters, "hessian_at_point": at_point,
                                  "fused_step": "auto" if at_point else False})
            for _ in range(3):
                opt.minimize(case.feed, hessian_feed)
            runs.append((case.problem.get_weights(case.sess), list(opt.sweeps)))
        assert relative_error(runs[1][0] - case.w0, runs[0][0] - case.w0) < 1e-10
        assert runs[1][1] == runs[0][1]
    with pytest.raises(ValueError, match="hessian_at_point"):
        cls(case.problem, sess=case.sess, parameters={"hessian_at_point": "yes"}).minimize(case.feed)


# ---------------------------------------------------------------------- hand-computed updates
def test_gradient_descent_fixed_step_is_w_minus_alpha_g(float64):
    case = linear_least_squares()
    alpha = 0.05
    opt = GradientDescent(case.problem, sess=case.sess, parameters={"alpha": alpha})
    for _ in range(2):
        w, g = case.sess.run([case.problem.w, case.problem.gradient], case.feed)
        info = opt.minimize(case.feed)
        np.testing.assert_allclose(case.problem.get_weights(case.sess), w - alpha * g,
                                   rtol=1e-14, atol=1e-15)
        assert info["alpha"] == alpha and opt.alpha == alpha


def test_adam_first_steps_equal_hand_computed_update(float64):
    case = linear_least_squares()
    alpha, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-7
    opt = Adam(case.problem, sess=case.sess, parameters={"alpha": alpha})
    m = np.zeros(case.problem.dimension)
    v = np.zeros(case.problem.dimension)
    for t in (1, 2, 3):
        w, g = case.sess.run([case.problem.w, case.problem.gradient], case.feed)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        expected = w - alpha * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        opt.minimize(case.feed)
        np.testing.assert_allclose(case.problem.get_weights(case.sess), expected, rtol=1e-13, atol=1e-15)
    # The first Adam step moves every weight by about alpha (sign of the gradient).
    assert ParametersAdam()["epsilon"] == 1e-7 and ParametersAdam()["beta_2"] == 0.999


# ---------------------------------------------------------------------- every configuration descends
CONFIGURATIONS = [
    (GradientDescent, {"alpha": 0.1}),
    (GradientDescent, {"alpha": 1.0, "globalization": "line_search"}),
    (Adam, {"alpha": 1e-2}),
    (InexactNewtonCG, {"alpha": 0.5}),
    (InexactNewtonCG, {"globalization": "line_search"}),
    (InexactNewtonCG, {"globalization": "trust_region", "trust_region_initial_radius": 0.5}),
    (InexactNewtonGMRES, {"globalization": "line_search"}),
    (InexactNewtonMINRES, {"globalization": "line_search"}),
    (LowRankSaddleFreeNewton, {"alpha": 0.1, "hessian_low_rank": 6, "oversample": 4,
                               "default_damping": 0.1}),
    (LowRankSaddleFreeNewton, {"alpha": 1.0, "globalization": "line_search",
                               "hessian_low_rank": 6, "oversample": 4}),
    (LowRankSaddleFreeNewton, {"globalization": "spectral_step", "hessian_low_rank": 6,
                               "default_damping": 0.1}),
    (LowRankSaddleFreeNewton, {"alpha": 1.0, "globalization": "line_search",
                               "range_finding": "arf", "range_block_size": 3, "hessian_low_rank": 9}),
    (LowRankSaddleFreeNewton, {"alpha": 1.0, "globalization": "line_search",
                               "range_finding": "naarf", "range_block_size": 3, "hessian_low_rank": 9,
                               "rq_samps": 4}),
    (LowRankSaddleFreeNewton, {"alpha": 1.0, "globalization": "line_search",
                               "range_finding": "vn", "range_block_size": 3, "max_vectors_nystrom": 9,
                               "rq_samps": 4}),
]


def _ids(configuration):
    cls, params = configuration
    extra = "-".join(str(params.get(key)) for key in ("globalization", "range_finding") if key in params)
    return f"{cls.__name__}-{extra or 'fixed'}"


@pytest.mark.parametrize("build", [tanh_mlp, small_classifier], ids=["tanh_mlp", "classifier"])
@pytest.mark.parametrize("configuration", CONFIGURATIONS, ids=[_ids(c) for c in CONFIGURATIONS])
def test_every_configuration_lowers_the_loss(float64, build, configuration):
    cls, params = configuration
    case = build()
    opt = cls(case.problem, sess=case.sess, parameters=params)
    initial = case.loss()
    for _ in range(4):
        info = opt.minimize(case.feed)
    final = case.loss()
    assert final < initial
    assert np.isfinite(final)
    assert opt.iter == 4 and info["iteration"] == 3
    assert set(opt.last_evaluation) >= {"loss", "data_loss", "norm_g", "accuracy"}
    assert opt.sweeps[0] >= 4


# ---------------------------------------------------------------------- randomness
def _lrsfn_run(case, seed, iterations=2):
    case.reset()
    opt = LowRankSaddleFreeNewton(case.problem, sess=case.sess, parameters={
        "hessian_low_rank": 3, "oversample": 0, "seed": seed, "default_damping": 0.1})
    iterates = []
    for _ in range(iterations):
        opt.minimize(case.feed)
        iterates.append(case.problem.get_weights(case.sess))
    return iterates, opt


def test_same_seed_identical_iterates_different_seed_differs(float64):
    case = tanh_mlp()
    a, _ = _lrsfn_run(case, seed=7)
    b, _ = _lrsfn_run(case, seed=7)
    c, _ = _lrsfn_run(case, seed=8)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert not np.allclose(a[0], c[0], rtol=1e-6, atol=0)


def test_rng_advances_between_iterations(float64):
    case = tanh_mlp()
    opt = LowRankSaddleFreeNewton(case.problem, sess=case.sess, parameters={
        "hessian_low_rank": 3, "oversample": 2, "fused_step": False})  # the numpy path's draws
    fresh = np.random.default_rng(opt.parameters["seed"])
    states = [opt.rng.bit_generator.state["state"]["state"]]
    for _ in range(2):
        opt.minimize(case.feed)
        states.append(opt.rng.bit_generator.state["state"]["state"])
    assert len(set(states)) == 3
    # Iteration 1 drew exactly one (n, r + p) Gaussian test matrix from the seeded stream.
    fresh.standard_normal((case.problem.dimension, 5))
    fresh.standard_normal((case.problem.dimension, 5))
    assert fresh.bit_generator.state == opt.rng.bit_generator.state


def test_low_rank_hessian_matches_dense_eigenvalues_and_uses_rng(float64):
    case = linear_least_squares()
    opt = GradientDescent(case.problem, sess=case.sess)
    n = case.problem.dimension
    H = opt.H(np.eye(n), case.feed)
    dense = np.linalg.eigvalsh(0.5 * (H + H.T))
    values, vectors = low_rank_hessian(opt, case.feed, n)
    np.testing.assert_allclose(np.sort(values), dense, rtol=1e-10)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(n), atol=1e-12)
    assert opt.sweeps[1] == 2 * n
    with pytest.raises(ValueError, match="k must be an int"):
        low_rank_hessian(opt, case.feed, n + 1)


# ---------------------------------------------------------------------- sweeps accounting
def test_sweeps_fixed_step_first_order(float64):
    case = linear_least_squares()
    for cls in (GradientDescent, Adam):
        opt = cls(case.problem, sess=case.sess)
        for _ in range(3):
            opt.minimize(case.feed)
        np.testing.assert_array_equal(opt.sweeps, [3.0, 0.0])


def test_sweeps_lrsfn_counts_applied_columns(float64):
    case = linear_least_squares()
    n = case.problem.dimension  # 8
    opt = LowRankSaddleFreeNewton(case.problem, sess=case.sess, parameters={
        "hessian_low_rank": 3, "oversample": 2})
    opt.minimize(case.feed)
    opt.minimize(case.feed)
    np.testing.assert_array_equal(opt.sweeps, [2.0, 2 * 2 * (3 + 2)])
    # Oversampling is reduced to n - r when r + p > n: the count says what was applied.
    opt = LowRankSaddleFreeNewton(case.problem, sess=case.sess, parameters={
        "hessian_low_rank": n - 1, "oversample": 10})
    opt.minimize(case.feed)
    np.testing.assert_array_equal(opt.sweeps, [1.0, 2 * n])


def test_sweeps_line_search_and_krylov(float64):
    case = linear_least_squares()
    opt = GradientDescent(case.problem, sess=case.sess, parameters={
        "line_search_alpha": 1e3, "globalization": "line_search"})
    info = opt.minimize(case.feed)
    assert info["backtracks"] > 0 and info["accepted"]
    assert opt.alpha == pytest.approx(1e3 * 0.5 ** info["backtracks"])
    np.testing.assert_array_equal(opt.sweeps, [1.0 + 0.5 * (info["backtracks"] + 1), 0.0])

    cg = InexactNewtonCG(case.problem, sess=case.sess, parameters={"cg_max_iter": 4, "eta_mode": 0,
                                                                   "cg_coarse_tolerance": 1e-14})
    info = cg.minimize(case.feed)
    assert info["cg_iterations"] == 4
    np.testing.assert_array_equal(cg.sweeps, [1.0, 4.0])

    tr = InexactNewtonCG(case.problem, sess=case.sess, parameters={
        "globalization": "trust_region", "eta_mode": 0, "cg_coarse_tolerance": 1e-14})
    info = tr.minimize(case.feed)
    # CG products, one product for p^T H p, one loss evaluation of the trial point.
    np.testing.assert_array_equal(tr.sweeps, [1.5, info["cg_iterations"] + 1.0])


def test_sweeps_partitions_count_fractions(float64):
    case = linear_least_squares()
    opt = LowRankSaddleFreeNewton(case.problem, sess=case.sess, parameters={
        "range_finding": "vn", "range_block_size": 2, "max_vectors_nystrom": 4, "rq_samps": 3,
        "max_bad_vectors_nystrom": 8})
    opt.minimize(case.feed)
    # Two blocks of 2 probes: 2 + 2 range columns and 2 + 2 projection columns on the batch,
    # plus 4 columns on each of 3 thirds of the batch (4/3 batch-equivalents each).
    assert opt.sweeps[1] == pytest.approx(8.0 + 4.0)


# ---------------------------------------------------------------------- failures
def test_nan_input_raises_and_leaves_weights_unchanged(float64):
    case = linear_least_squares()
    bad = dict(case.feed)
    X = np.array(bad[case.problem.x])
    X[0, 0] = np.nan
    bad[case.problem.x] = X
    for cls in (GradientDescent, Adam, InexactNewtonCG, LowRankSaddleFreeNewton):
        opt = cls(case.problem, sess=case.sess, parameters={"hessian_low_rank": 2}
                  if cls is LowRankSaddleFreeNewton else None)
        with pytest.raises(NonFiniteError, match="NaN or inf"):
            opt.minimize(bad)
        np.testing.assert_array_equal(case.problem.get_weights(case.sess), case.w0)
        assert opt.iter == 0
    assert issubclass(NonFiniteError, FloatingPointError)


def test_bad_parameters_raise_clear_errors(float64):
    case = linear_least_squares()
    problem, sess = case.problem, case.sess
    with pytest.raises(KeyError, match="Did you mean 'alpha'"):
        GradientDescent(problem, sess=sess, parameters={"alpah": 0.1})
    for value in (0.0, -1.0):
        with pytest.raises(ValueError, match="'alpha'"):
            LowRankSaddleFreeNewton(problem, sess=sess, parameters={"alpha": value})
    for rank in (0, problem.dimension + 1):
        with pytest.raises(ValueError, match="hessian_low_rank"):
            LowRankSaddleFreeNewton(problem, sess=sess, parameters={"hessian_low_rank": rank})
    with pytest.raises(ValueError, match="'spectral_step'"):
        LowRankSaddleFreeNewton(problem, sess=sess, parameters={"globalization": "trust"})
    with pytest.raises(ValueError, match="'naarf'"):
        LowRankSaddleFreeNewton(problem, sess=sess, parameters={"range_finding": "nystrom"})
    with pytest.raises(ValueError, match="'trust_region'"):
        InexactNewtonCG(problem, sess=sess, parameters={"globalization": "spectral_step"})
    with pytest.raises(ValueError, match="hessian_type"):
        InexactNewtonCG(problem, sess=sess, parameters={"hessian_type": "newton_gn"})
    with pytest.raises(ValueError, match="beta_1"):
        Adam(problem, sess=sess, parameters={"beta_1": 1.0})
    with pytest.raises(TypeError, match="parameters must be"):
        Adam(problem, sess=sess, parameters=[("alpha", 1.0)])
    opt = GradientDescent(problem)
    with pytest.raises(ValueError, match="sess is None"):
        opt.minimize(case.feed)
    opt.sess = sess
    with pytest.raises(TypeError, match="feed_dict must be a dict"):
        opt.minimize([1, 2])
    # A later bad setting is caught at the next step, before the weights change.
    opt.parameters["globalization"] = "armijo"
    with pytest.raises(ValueError, match="'line_search'"):
        opt.minimize(case.feed)
    np.testing.assert_array_equal(problem.get_weights(sess), case.w0)


def test_parameters_defaults_overrides_and_no_mutation(float64):
    case = linear_least_squares()
    overrides = {"alpha": 0.2, "globalization": "None"}
    opt = GradientDescent(case.problem, sess=case.sess, parameters=overrides)
    assert overrides == {"alpha": 0.2, "globalization": "None"}
    assert opt.parameters["alpha"] == 0.2 and opt.globalization is None
    given = ParametersGradientDescent()
    opt = GradientDescent(case.problem, sess=case.sess, parameters=given)
    opt.parameters["alpha"] = 3.0
    assert given["alpha"] == 1e-3
    assert GradientDescent(case.problem).parameters == ParametersGradientDescent()
    feed = dict(case.feed)
    LowRankSaddleFreeNewton(case.problem, sess=case.sess, parameters={
        "hessian_low_rank": 2, "range_finding": "vn", "rq_samps": 3}).minimize(feed)
    assert feed.keys() == case.feed.keys() and all(feed[k] is case.feed[k] for k in feed)


def test_hessian_feed_dict_is_used_for_curvature(float64):
    case = linear_least_squares()
    n = case.problem.dimension
    half = {key: value[: N_SAMPLES // 2] for key, value in case.feed.items()}
    opt = LowRankSaddleFreeNewton(case.problem, sess=case.sess, parameters={
        "alpha": 1.0, "hessian_low_rank": n, "oversample": 0})
    opt.minimize(case.feed, hessian_feed_dict=half)
    H_half = opt.H(np.eye(n), half)
    np.testing.assert_allclose(np.sort(opt.eigenvalues), np.linalg.eigvalsh(0.5 * (H_half + H_half.T)),
                               rtol=1e-10)


def test_newton_cg_trust_region_steps_to_the_boundary_and_grows(float64):
    case = linear_least_squares()
    radius = 1e-2
    opt = InexactNewtonCG(case.problem, sess=case.sess, parameters={
        "globalization": "trust_region", "trust_region_initial_radius": radius,
        "eta_mode": 0, "cg_coarse_tolerance": 1e-12, "cg_max_iter": 50})
    info = opt.minimize(case.feed)
    step = case.problem.get_weights(case.sess) - case.w0
    # The loss is quadratic, so the model is exact: rho = 1, the step is accepted and,
    # being on the boundary, doubles the radius.
    assert info["accepted"] and info["rho"] == pytest.approx(1.0, rel=1e-8)
    assert np.linalg.norm(step) == pytest.approx(radius, rel=1e-10)
    assert opt.trust_region.radius == 2 * radius and opt.alpha == 1.0
    # A rejected step restores the weights exactly.
    w = case.problem.get_weights(case.sess)
    opt.trust_region.accept_threshold = 0.2
    opt.trust_region.shrink_threshold = 0.25
    opt.trust_region.update = lambda actual, predicted, norm: (False, -1.0)
    info = opt.minimize(case.feed)
    assert not info["accepted"] and opt.alpha == 0.0
    np.testing.assert_array_equal(case.problem.get_weights(case.sess), w)
