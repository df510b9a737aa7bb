"""Fused in-graph steps (problem/fused_steps.py) give the numpy path's steps to round-off (float64)."""
import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn._internals import public_fallbacks
from hessianlearn.algorithms.adam import Adam
from hessianlearn.algorithms.low_rank_saddle_free_newton import LowRankSaddleFreeNewton
from hessianlearn.algorithms.optimizer import NonFiniteError
from hessianlearn.problem.fused_steps import (
    FusedLowRankSaddleFreeNewtonStep,
    _rademacher_parts_from_bits,
    _whitening,
    fused_step,
)
from hessianlearn.problem.regression_problem import RegressionProblem
from hessianlearn.problem.regularization import L2Regularization
from hessianlearn.utilities.random_matrices import draw_test_matrix, rademacher_bits, rademacher_from_bits

from cases import explicit_hessian, make_case


@pytest.mark.parametrize("n, indices", [
    (48, [(0, 16), (16, 24), (24, 48)]),          # byte-aligned parts: bytes sliced, then unpacked
    (45, [(0, 7), (7, 30), (30, 45)]),            # unaligned: unpacked whole, then sliced
    (40, [(0, 8), (8, 12), (12, 40)]),            # one unaligned bound is enough to fall back
])
def test_rademacher_parts_unpack_the_numpy_layout(n, indices):
    """The graph's per-weight unpacking of the packed signs equals the numpy decoding."""
    m = 5
    bits = rademacher_bits(np.random.default_rng(n), n, m)
    expected = rademacher_from_bits(bits, n, m)  # (n, m)
    with tf.Graph().as_default(), tf.Session() as sess:
        placeholder = tf.placeholder(tf.uint8, [bits.size])
        parts = sess.run(_rademacher_parts_from_bits(placeholder, n, m, indices, tf.float64),
                         {placeholder: bits})
    for (a, b), part in zip(indices, parts):
        np.testing.assert_array_equal(part, expected[a:b].T)


def _setup(kind="classification_cross_entropy", gamma=None, seed=0):
    case = make_case(kind, "mlp", "float64", hessian_block_size=4, seed=seed)
    problem = case.problem
    regularization = None if gamma is None else L2Regularization(problem, gamma)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return problem, regularization, case.feed_dict, sess


def _tiny(gamma=1e-3):
    """A 2-2-1 tanh regression (9 weights): full-rank LRSFN builds fast."""
    rng = np.random.default_rng(8)
    X = rng.uniform(-1, 1, (12, 2))
    Y = np.sin(2 * X[:, :1]) * X[:, 1:]
    init = keras.initializers.GlorotUniform(seed=1)
    model = keras.Sequential([keras.layers.Dense(2, activation="tanh", input_shape=(2,),
                                                 kernel_initializer=init, bias_initializer="ones"),
                              keras.layers.Dense(1, kernel_initializer=init)])
    problem = RegressionProblem(model)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return problem, L2Regularization(problem, gamma), {problem.x: X, problem.y_true: Y}, sess


def _batches(feed, count, size, seed):
    rng = np.random.default_rng(seed)
    n = len(next(iter(feed.values())))
    for _ in range(count):
        index = rng.choice(n, size, replace=True)
        yield {key: value[index] for key, value in feed.items()}


def feed_host_gaussian(opt):
    """Make ``opt``'s fused LRSFN step take the Gaussian test matrix the numpy path draws
    from ``opt.rng`` (fed explicitly) instead of drawing its own in the graph."""
    if opt.parameters["test_matrix"] == "gaussian":
        dtype = opt.problem.dtype.as_numpy_dtype
        opt._fused_test_matrix = lambda m: draw_test_matrix(opt.rng, opt.problem.dimension, m,
                                                            "gaussian", dtype)


def _dense_hessian(problem, regularization, sess, feed):
    H = explicit_hessian(problem, sess, feed)
    if regularization is not None:
        H = H + regularization.gamma * np.eye(problem.dimension)
    return 0.5 * (H + H.T)


@pytest.mark.parametrize("gamma", [None, 1e-2])
def test_fused_adam_equals_numpy_adam(float64, gamma):
    problem, regularization, feed, sess = _setup(gamma=gamma)
    w0 = problem.get_weights(sess)
    params = {"alpha": 1e-2, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-7}
    weights, infos = {}, {}
    for fused in (False, True):
        problem.set_weights(sess, w0.copy())
        opt = Adam(problem, regularization, sess, parameters=dict(params, fused_step=fused))
        infos[fused] = [opt.minimize(batch) for batch in _batches(feed, 4, 6, seed=1)]
        weights[fused] = problem.get_weights(sess)
        moments = (opt.m, opt.v)
        assert opt.sweeps.tolist() == [4.0, 0.0] and opt.iter == 4
    np.testing.assert_allclose(weights[True], weights[False], rtol=1e-12, atol=1e-14)
    for a, b in zip(infos[True], infos[False]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-12)
        assert a["norm_g"] == pytest.approx(b["norm_g"], rel=1e-12)
    assert moments[0].shape == (problem.dimension,) and np.all(moments[1] >= 0)


def test_fused_adam_switches_with_the_numpy_path(float64):
    problem, _, feed, sess = _setup()
    w0 = problem.get_weights(sess)
    batches = list(_batches(feed, 4, 6, seed=2))
    opt = Adam(problem, sess=sess)
    for batch in batches:
        opt.minimize(batch)
    reference = problem.get_weights(sess)
    problem.set_weights(sess, w0.copy())
    opt = Adam(problem, sess=sess)
    for i, batch in enumerate(batches):  # numpy, fused, fused, numpy
        opt.parameters["fused_step"] = i in (1, 2)
        opt.minimize(batch)
    np.testing.assert_allclose(problem.get_weights(sess), reference, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("gamma", [None, 1e-2])
def test_fused_adam_forms_give_the_same_bits_and_the_session_picks_one(gamma):
    """FusedAdamStep's two forms (flat ops; TensorFlow's kernel per weight tensor) give the
    same weights and moments bit for bit (float32), one step per run and in step sequences
    (which run the single step's graph and moments), across a state_dict round trip; Adam
    takes the kernel form for a session asking for one intra-op thread, the flat form
    otherwise, and keeps its choice while it holds the moments. (The sessions share the
    process's thread pool: this checks the bits and the choice, not the speed.)"""
    case = make_case("classification_cross_entropy", "mlp", "float32", seed=3)
    problem = case.problem
    regularization = None if gamma is None else L2Regularization(problem, gamma)
    batches = list(_batches(case.feed_dict, 9, 6, seed=4))
    with problem._graph.as_default():
        init = tf.global_variables_initializer()
    results = {}
    for threads in (1, 2, 0):
        config = tf.ConfigProto(intra_op_parallelism_threads=threads)
        with tf.Session(graph=problem._graph, config=config) as sess:
            sess.run(init)
            opt = Adam(problem, regularization, sess, parameters={"alpha": 1e-2})
            opt.minimize(batches[0])
            step = opt._fused
            assert step.flat == (threads != 1)
            sequence = fused_step("steps", problem, regularization, method="adam", flat=step.flat)
            assert sequence.step is step
            calls = []
            feed = sequence.feed
            sequence.feed = lambda *a, **k: calls.append(1) or feed(*a, **k)
            with public_fallbacks("session_config"):  # the choice is kept while the step holds m, v
                opt.minimize_steps(batches[1:5])
            del sequence.feed
            assert calls == [1] and opt._fused is step and opt.fast_path_iterations == 5
            resumed = Adam(problem, regularization, sess, parameters={"alpha": 1e-2})
            resumed.load_state_dict(opt.state_dict())
            resumed.minimize_steps(batches[5:8])
            resumed.minimize(batches[8])
            results[threads] = [x.tobytes() for x in sess.run(problem._weights)] + \
                [resumed.m.tobytes(), resumed.v.tobytes()]
    assert results[1] == results[2] == results[0]


def test_fused_step_cache_fills_in_defaults_and_names_bad_keywords(float64):
    problem, regularization, _, _ = _setup(gamma=1e-2)
    assert fused_step("adam", problem, regularization) is fused_step("adam", problem, regularization,
                                                                      flat=True)
    assert fused_step("adam", problem, regularization, flat=False).flat is False
    assert fused_step("steps", problem, regularization).step is fused_step("adam", problem, regularization)
    with pytest.raises(TypeError, match="fused_step\\('adam'\\).*rank"):
        fused_step("adam", problem, regularization, rank=3)


def test_adam_refuses_a_new_session_when_its_moments_died_with_the_old_one(float64):
    problem, _, feed, sess = _setup()
    opt = Adam(problem, sess=sess)
    opt.minimize(feed)  # the fused step: the moments live in sess
    state = opt.state_dict()
    sess.close()
    new = tf.Session(graph=problem._graph)
    with pytest.raises(ValueError, match="state_dict"):
        opt.sess = new
    resumed = Adam(problem, sess=new)  # the documented way
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(resumed.m, state["m"])


@pytest.mark.parametrize("gamma", [None, 1e-3])
@pytest.mark.parametrize("oversample, test_matrix", [(0, "gaussian"), (3, "gaussian"),
                                                     (3, "rademacher")])
def test_fused_lrsfn_direction_equals_numpy_direction_for_the_same_test_matrix(
        float64, gamma, oversample, test_matrix):
    _check_fused_direction(*_setup(gamma=gamma), oversample, test_matrix)


def test_fused_lrsfn_direction_on_a_relu_max_pool_cnn(float64):
    """The fused step's two passes run in a while loop: the max pools' argmax positions
    (shared by a block's columns) are built inside it, the step still equals the numpy one."""
    from test_hessian_products import _relu_pool_classifier
    problem, feed = _relu_pool_classifier(np.random.default_rng(3))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    _check_fused_direction(problem, None, feed, sess, 2, "gaussian")


def _check_fused_direction(problem, regularization, feed, sess, oversample, test_matrix):
    n, k = problem.dimension, 5
    opt = LowRankSaddleFreeNewton(problem, regularization, sess,
                                  parameters={"hessian_low_rank": k, "oversample": oversample})
    step = FusedLowRankSaddleFreeNewtonStep(problem, regularization, rank=k, oversample=oversample,
                                            test_matrix=test_matrix)
    rng = np.random.default_rng(4)
    if test_matrix == "rademacher":  # the fused step is fed the packed bits
        fed_omega = rademacher_bits(rng, n, k + oversample)
        omega = rademacher_from_bits(fed_omega, n, k + oversample)
    else:
        fed_omega = omega = rng.standard_normal((n, k + oversample))
    g = rng.standard_normal(n)
    # numpy path on the same test matrix: double pass through the curvature operator
    Y = opt.H(omega, feed)
    Q, _ = np.linalg.qr(Y)
    T = Q.T @ opt.H(Q, feed)
    values, vectors = np.linalg.eigh(0.5 * (T + T.T))
    order = np.argsort(-np.abs(values), kind="stable")[:k]
    expected = opt.direction(g, values[order], Q @ vectors[:, order])
    gamma_r = 0.0 if regularization is None else regularization.gamma
    fed = step.feed(feed, g, fed_omega, alpha=1.0, gamma=opt.damping, gamma_r=gamma_r)
    w_before = problem.get_weights(sess)
    direction, eigenvalues = sess.run([step.direction, step.fetches["eigenvalues"]], fed)
    np.testing.assert_allclose(eigenvalues, values[order], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(direction, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_array_equal(problem.get_weights(sess), w_before)  # no update fetched


@pytest.mark.parametrize("test_matrix", ["gaussian", "rademacher"])
@pytest.mark.parametrize("globalization, rank", [(None, None), ("spectral_step", None), (None, 3),
                                                  ("line_search", 3)])
def test_fused_lrsfn_steps_equal_numpy_steps(float64, globalization, rank, test_matrix):
    """Same test matrices on both paths (the fused one fed the numpy path's Gaussian draws;
    Rademacher bits are the same draw), so the iterates agree to round-off."""
    problem, regularization, feed, sess = _tiny()
    w0 = problem.get_weights(sess)
    n = problem.dimension if rank is None else rank
    batches = list(_batches(feed, 3, 8, seed=3))
    hess = list(_batches(feed, 3, 5, seed=4))
    results = {}
    for fused in (False, True):
        problem.set_weights(sess, w0.copy())
        opt = LowRankSaddleFreeNewton(problem, regularization, sess, parameters={
            "hessian_low_rank": n, "alpha": 0.5, "globalization": globalization, "fused_step": fused,
            "test_matrix": test_matrix})
        feed_host_gaussian(opt)
        infos = [opt.minimize(b, h) for b, h in zip(batches, hess)]
        results[fused] = (problem.get_weights(sess), opt.eigenvalues, infos, opt.sweeps.copy())
    w_fused, lam_fused, info_fused, sweeps_fused = results[True]
    w_numpy, lam_numpy, info_numpy, sweeps_numpy = results[False]
    # Round-off: the complement term (g - U U^T g) / gamma (gamma = 1e-3) amplifies the basis'
    # round-off, and the weights reach 1e5 after three steps
    np.testing.assert_allclose(w_fused, w_numpy, rtol=1e-7, atol=1e-11)
    np.testing.assert_allclose(lam_fused, lam_numpy, rtol=1e-9, atol=1e-11)
    for a, b in zip(info_fused, info_numpy):
        assert a["alpha"] == pytest.approx(b["alpha"], rel=1e-9)
        assert a["rank"] == b["rank"] == n
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-10)
        assert a.get("backtracks") == b.get("backtracks")
    np.testing.assert_array_equal(sweeps_fused, sweeps_numpy)


def test_fused_lrsfn_eigenvalues_of_the_dense_hessian_and_reproducible(float64):
    problem, regularization, feed, sess = _tiny()
    H = _dense_hessian(problem, regularization, sess, feed)
    exact = np.linalg.eigvalsh(H)
    exact = exact[np.argsort(-np.abs(exact))]
    w0 = problem.get_weights(sess)
    runs = []
    for _ in range(2):
        problem.set_weights(sess, w0.copy())
        opt = LowRankSaddleFreeNewton(problem, regularization, sess, parameters={
            "hessian_low_rank": problem.dimension, "fused_step": True, "seed": 7})
        opt.minimize(feed)
        runs.append((opt.eigenvalues.copy(), problem.get_weights(sess), opt.rng.bit_generator.state))
    np.testing.assert_allclose(runs[0][0], exact, rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]
    assert opt.eigenvectors is None and opt.rank == problem.dimension


def test_whitening_orthonormalizes_and_bounds_null_directions(float64):
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((50, 8)))
    V, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    Y = U @ np.diag(np.logspace(0, -5, 8)) @ V.T  # condition number 1e5
    deficient = np.hstack([Y[:, :3] @ rng.standard_normal((3, 6)), rng.standard_normal((50, 2))])
    with tf.Session() as sess:
        W, W_deficient = sess.run([_whitening(tf.constant(X.T @ X), 8 * np.finfo(float).eps)
                                   for X in (Y, deficient)])
    Q = Y @ W
    np.testing.assert_allclose(Q.T @ Q, np.eye(8), atol=1e-6)  # eps * cond^2 of the Gram
    s = np.linalg.svd(deficient @ W_deficient, compute_uv=False)
    np.testing.assert_allclose(s[:5], 1.0, atol=1e-8)  # rank 5: the range, orthonormal
    assert np.all(np.isfinite(W_deficient)) and s[5:].max() < 1e-3  # null directions not blown up
    P = (deficient @ W_deficient)
    P = P @ np.linalg.pinv(P, rcond=1e-6)
    np.testing.assert_allclose(P @ deficient, deficient, atol=1e-8 * np.abs(deficient).max())


def test_fused_graphs_are_cached_per_problem(float64):
    problem, regularization, feed, sess = _tiny()
    a = fused_step("lrsfn", problem, regularization, rank=3, oversample=0)
    assert fused_step("lrsfn", problem, regularization, rank=3, oversample=0) is a
    assert fused_step("lrsfn", problem, regularization, rank=4, oversample=0) is not a
    assert fused_step("adam", problem) is fused_step("adam", problem)
    with pytest.raises(ValueError, match="kind"):
        fused_step("newton", problem)


def test_fused_steps_bad_configurations_raise(float64):
    problem, _, feed, sess = _setup()
    for parameters in ({"range_finding": "arf"}, {"range_finding": "vn"}):
        with pytest.raises(ValueError, match="fused_step"):
            LowRankSaddleFreeNewton(problem, sess=sess, parameters=dict(parameters, fused_step=True))
    with pytest.raises(ValueError, match="fused_step"):
        Adam(problem, sess=sess, parameters={"fused_step": "yes"})
    with pytest.raises(ValueError, match="rank"):
        FusedLowRankSaddleFreeNewtonStep(problem, rank=problem.dimension + 1)


def test_fused_steps_leave_weights_unchanged_on_nan(float64):
    problem, _, feed, sess = _setup()
    bad = {key: np.full_like(value, np.nan) for key, value in feed.items()}
    w0 = problem.get_weights(sess)
    for opt in (Adam(problem, sess=sess, parameters={"fused_step": True}),
                LowRankSaddleFreeNewton(problem, sess=sess, parameters={"hessian_low_rank": 3,
                                                                         "fused_step": True})):
        with pytest.raises(NonFiniteError):
            opt.minimize(bad)
        np.testing.assert_array_equal(problem.get_weights(sess), w0)
    opt = LowRankSaddleFreeNewton(problem, sess=sess, parameters={"hessian_low_rank": 3,
                                                                   "fused_step": True})
    with pytest.raises(NonFiniteError):
        opt.minimize(feed, bad)  # finite gradient, NaN curvature
    np.testing.assert_array_equal(problem.get_weights(sess), w0)


def _one_step_both_paths(dtype, parameters):
    """``{fused: (w_1 - w_0, eigenvalues)}`` of one LRSFN step from the same weights on an
    autoencoder case, numpy path and fused path."""
    case = make_case("autoencoder", "mlp", dtype, seed=2)
    problem, feed = case.problem, case.feed_dict
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    w0 = problem.get_weights(sess)
    results = {}
    for fused in (False, True):
        problem.set_weights(sess, w0.copy())
        opt = LowRankSaddleFreeNewton(problem, None, sess, parameters=dict(parameters, fused_step=fused))
        feed_host_gaussian(opt)
        opt.minimize(feed)
        results[fused] = (problem.get_weights(sess) - w0, opt.eigenvalues)
    return results, problem, sess, feed


@pytest.mark.parametrize("test_matrix", ["gaussian", "rademacher"])
def test_fused_lrsfn_float32_matches_the_numpy_path_to_float32_round_off(test_matrix):
    """Float32 tall products, float64 small algebra: the fused step stays within float32
    round-off (amplified by the conditioning of H Omega) of the numpy path's."""
    results, *_ = _one_step_both_paths("float32", {"hessian_low_rank": 6, "oversample": 4, "alpha": 0.1,
                                                   "test_matrix": test_matrix, "seed": 3})
    (step_fused, lam_fused), (step_numpy, lam_numpy) = results[True], results[False]
    assert np.abs(lam_numpy).min() > 0
    np.testing.assert_allclose(lam_fused, lam_numpy, rtol=1e-4)
    assert np.linalg.norm(step_fused - step_numpy) <= 1e-3 * np.linalg.norm(step_numpy)


def test_fused_lrsfn_uses_the_gauss_newton_matrix_when_asked(float64):
    """hessian_type 'gauss_newton': the fused step decomposes J^T H_L J, as the numpy path."""
    results, problem, sess, feed = _one_step_both_paths("float64", {
        "hessian_low_rank": 3, "oversample": 5, "hessian_type": "gauss_newton", "test_matrix": "rademacher"})
    np.testing.assert_allclose(results[True][1], results[False][1], rtol=1e-9)
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-9, atol=1e-12)
    problem.set_weights(sess, problem.get_weights(sess) - results[True][0])  # back to w_0
    hessian_values = np.linalg.eigvalsh(_dense_hessian(problem, None, sess, feed))
    assert not np.allclose(np.sort(results[True][1])[::-1], np.sort(hessian_values)[::-1][:3])
