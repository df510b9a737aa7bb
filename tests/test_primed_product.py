"""Newton-CG's first product in the gradient's run (``hessianlearn.problem.primed_product``):
the same iterates, bit for bit, as the separate capture-and-product run, one session run fewer;
and with a fixed step CG's first iteration and the update in that run too
(``hessianlearn.problem.fused_steps.PrimedNewtonCGStep``): the host's iterates to round-off,
one more run fewer on each step that iteration ends."""
import numpy as np
import pytest
from tensorflow.python.client import session as tf_session

from hessianlearn import keras, tf
from hessianlearn.algorithms.inexact_newton_cg import InexactNewtonCG
from hessianlearn.algorithms.optimizer import NonFiniteError
from hessianlearn.problem.primed_product import primed_product
from hessianlearn.problem.regression_problem import RegressionProblem
from hessianlearn.problem.regularization import L2Regularization

from cases import PROBLEM_KINDS, make_case
from test_fused_steps import _batches


def _case(dtype, gamma):
    case = make_case("classification_cross_entropy", "mlp", dtype, seed=3)
    problem = case.problem
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return problem, L2Regularization(problem, gamma), case.feed_dict, sess


@pytest.fixture
def session_runs(monkeypatch):
    """The number of TensorFlow session runs so far (``sess.run`` and prepared callables)."""
    count = [0]
    call = tf_session.BaseSession._call_tf_sessionrun

    def counting(self, *args):
        count[0] += 1
        return call(self, *args)

    monkeypatch.setattr(tf_session.BaseSession, "_call_tf_sessionrun", counting)
    return count


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("gamma", [0.0, 1e-3])
@pytest.mark.parametrize("parameters", [
    {}, {"globalization": "line_search"}, {"globalization": "trust_region"},
    {"hessian_type": "gauss_newton", "eta_mode": 0, "cg_coarse_tolerance": 1e-3, "alpha": 0.1}])
def test_primed_first_product_gives_the_iterates_of_separate_runs(dtype, gamma, parameters,
                                                                    session_runs):
    problem, regularization, feed, sess = _case(dtype, gamma)
    w0 = problem.get_weights(sess)
    batches = list(_batches(feed, 6, 8, seed=1))
    hessian_batches = list(_batches(feed, 6, 4, seed=2))
    runs = {}
    for primes in (True, False):
        problem.set_weights(sess, w0)
        opt = InexactNewtonCG(problem, regularization, sess, parameters={"cg_max_iter": 4, **parameters})
        opt.primes_first_product = primes
        opt.first_step_in_gradient_run = False  # tested below
        opt.minimize(batches[0], hessian_batches[0])  # builds the graphs
        session_runs[0] = 0
        infos = [opt.minimize(b, h) for b, h in zip(batches[1:], hessian_batches[1:])]
        runs[primes] = (problem.get_weights(sess), infos, opt.sweeps.copy(), session_runs[0])
    np.testing.assert_array_equal(runs[True][0], runs[False][0])
    assert runs[True][1] == runs[False][1]
    np.testing.assert_array_equal(runs[True][2], runs[False][2])
    # every step whose CG applied H at all took its first product from the gradient's run
    applied = sum(info["cg_iterations"] > 0 for info in runs[True][1])
    assert applied > 0
    assert runs[False][3] - runs[True][3] == applied


def _in_run_and_host_steps(problem, regularization, feed, sess, parameters, session_runs, steps=6):
    """Weights, step infos, sweeps, solver states and session runs of Newton-CG with the
    first CG iteration in the gradient's run (True) and on the host (False)."""
    w0 = problem.get_weights(sess)
    batches = list(_batches(feed, steps, 8, seed=1))
    hessian_batches = list(_batches(feed, steps, 4, seed=2))
    runs = {}
    for in_run in (True, False):
        problem.set_weights(sess, w0)
        opt = InexactNewtonCG(problem, regularization, sess, parameters=parameters)
        opt.first_step_in_gradient_run = in_run
        first = opt.minimize(batches[0], hessian_batches[0])  # builds the graphs
        session_runs[0] = 0
        infos = [opt.minimize(b, h) for b, h in zip(batches[1:], hessian_batches[1:])]
        info = opt.last_solver_info
        runs[in_run] = (problem.get_weights(sess), [first] + infos, opt.sweeps.copy(), session_runs[0],
                        (info.residual_norm, info.tolerance, info.relative_tolerance,
                         opt.solver._previous_eta))
    return runs


@pytest.mark.parametrize("gamma", [0.0, 1e-3])
@pytest.mark.parametrize("parameters, finished", [
    ({}, "any"), ({"eta_mode": 0, "cg_coarse_tolerance": 0.9}, "some"),
    ({"cg_max_iter": 1}, "every"), ({"eta_mode": 1, "cg_max_iter": 1, "alpha": 0.5}, "every"),
    ({"hessian_type": "gauss_newton", "cg_max_iter": 1, "alpha": 0.5}, "every")])
def test_the_first_cg_iteration_in_the_gradient_run_gives_the_host_iterates(
        gamma, parameters, finished, session_runs):
    """float64: the steps the gradient's run finishes equal the host CG's to round-off, with
    the same iteration counts, reasons (with ``cg_max_iter`` 1 the Eisenstat-Walker
    tolerance alone decides 'tolerance' or 'max_iterations'), sweeps and forcing terms; each
    saves the update's run, and it is tried only after a step that ended at its first iteration."""
    problem, regularization, feed, sess = _case("float64", gamma)
    runs = _in_run_and_host_steps(problem, regularization, feed, sess, parameters, session_runs)
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=1e-11, atol=1e-14)
    for info, reference in zip(runs[True][1], runs[False][1]):
        assert info.keys() == reference.keys()
        for key in ("iteration", "cg_iterations", "cg_reason", "alpha"):
            assert info[key] == reference[key]
        np.testing.assert_allclose([info["loss"], info["norm_g"]],
                                   [reference["loss"], reference["norm_g"]], rtol=1e-12)
    np.testing.assert_array_equal(runs[True][2], runs[False][2])
    np.testing.assert_allclose(runs[True][4], runs[False][4], rtol=1e-11)
    in_run = runs[False][3] - runs[True][3]  # steps finished in the gradient's run
    iterations = [info["cg_iterations"] for info in runs[False][1]]
    # tried after a step that ended at its first iteration; finished there when this one did
    expected = sum(before <= 1 and now <= 1 for before, now in zip(iterations, iterations[1:]))
    assert in_run == expected
    if finished == "some":
        assert in_run > 0
    if finished == "every":
        assert in_run == len(iterations) - 1
        assert {info["cg_reason"] for info in runs[False][1]} != {"negative_curvature"}


@pytest.mark.parametrize("parameters", [{"globalization": "line_search"},
                                        {"globalization": "trust_region"},
                                        {"cg_in_graph": True}])
def test_only_the_fixed_step_of_the_host_cg_runs_in_the_gradient_run(parameters, session_runs):
    problem, regularization, feed, sess = _case("float64", 0.0)
    runs = _in_run_and_host_steps(problem, regularization, feed, sess,
                                  {"cg_max_iter": 1, **parameters}, session_runs)
    np.testing.assert_array_equal(runs[True][0], runs[False][0])
    assert runs[True][3] == runs[False][3]


def _saddle(alpha):
    """``f = w_2 w_1 x`` (two 1x1 linear layers) at ``w = (0.1, 0.1)``, ``x = y = 1``: the
    gradient direction has negative curvature, ``b^T H b = 2 eps^2 (eps^2 ... - 1) < 0``."""
    x_in = keras.Input((1,), dtype="float64")
    hidden = keras.layers.Dense(1, use_bias=False, dtype="float64")(x_in)
    problem = RegressionProblem(keras.Model(x_in, keras.layers.Dense(1, use_bias=False,
                                                                     dtype="float64")(hidden)))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    problem.set_weights(sess, np.array([0.1, 0.1]))
    batch = {problem.x: np.ones((1, 1)), problem.y_true: np.ones((1, 1))}
    opt = InexactNewtonCG(problem, sess=sess, parameters={"alpha": alpha})
    return problem, sess, batch, opt


def test_negative_curvature_at_the_first_iteration_steps_along_minus_g_in_the_gradient_run(
        session_runs):
    problem, sess, batch, opt = _saddle(0.5)
    g = sess.run(problem.gradient, batch)
    session_runs[0] = 0
    info = opt.minimize(batch, dict(batch))
    assert info["cg_reason"] == "negative_curvature" and info["cg_iterations"] == 1
    assert session_runs[0] == 1
    np.testing.assert_allclose(problem.get_weights(sess), [0.1, 0.1] - 0.5 * g, rtol=1e-15)
    problem.set_weights(sess, np.array([0.1, 0.1]))
    opt.first_step_in_gradient_run = False
    reference = opt.minimize(batch, dict(batch))
    assert reference["cg_reason"] == "negative_curvature"
    np.testing.assert_allclose(problem.get_weights(sess), [0.1, 0.1] - 0.5 * g, rtol=1e-15)


def test_a_non_finite_product_leaves_the_weights_and_raises():
    problem, regularization, feed, sess = _case("float64", 0.0)
    opt = InexactNewtonCG(problem, regularization, sess, parameters={"cg_max_iter": 1})
    batch, hessian_batch = list(_batches(feed, 1, 8, seed=1))[0], list(_batches(feed, 1, 4, seed=2))[0]
    opt.minimize(batch, hessian_batch)
    w = problem.get_weights(sess)
    broken = dict(hessian_batch)
    broken[problem.x] = np.full_like(hessian_batch[problem.x], np.nan)
    with pytest.raises(NonFiniteError, match="step direction"):
        opt.minimize(batch, broken)
    np.testing.assert_array_equal(problem.get_weights(sess), w)


@pytest.mark.parametrize("gamma", [0.0, 1e-3])
def test_primed_direction_rounds_as_the_host_feed_and_its_product_is_the_fresh_one(gamma):
    """``b = -(g + gamma w)`` in float32 equals the host's float32(-(g64 + (gamma w)64)) bit for
    bit, and ``H b`` equals the fresh product of that direction."""
    problem, regularization, feed, sess = _case("float32", gamma)
    opt = InexactNewtonCG(problem, regularization, sess)
    graph = primed_product(opt.H, gamma)
    batch, hessian_batch = list(_batches(feed, 1, 8, seed=4))[0], list(_batches(feed, 1, 4, seed=5))[0]
    out = sess.run({"g": problem.gradient, "reg": regularization.gradient, "b": graph.direction,
                    "Hb": graph.product, "capture": graph.capture},
                   {**batch, **graph.feed(hessian_batch)})
    b = -(out["g"].astype(np.float64) + out["reg"].astype(np.float64))
    np.testing.assert_array_equal(out["b"], b.astype(np.float32))
    dw, Hdw = opt.H._vector_product()
    np.testing.assert_array_equal(out["Hb"], sess.run(Hdw, {**hessian_batch, dw: out["b"]}))
    assert primed_product(opt.H, gamma) is graph  # built once per operator kind and gamma
    assert graph.feed({problem.x: hessian_batch[problem.x]}) is None  # a missing label feed
    first_layer = next(iter(problem.layer_descriptors))
    layer = type(opt.H)(problem, sess, regularization, layer_name=first_layer)
    assert primed_product(layer, gamma) is None  # b is on all the weights, not one layer's
    assert primed_product(opt.H, gamma) is graph


def test_a_graph_with_random_draws_is_not_copied_and_newton_cg_runs_as_before(session_runs):
    x_in = keras.Input((3,))
    noisy = keras.layers.Lambda(lambda t: t + 1e-3 * tf.random.normal(tf.shape(t), seed=3))(x_in)
    problem = RegressionProblem(keras.Model(x_in, keras.layers.Dense(2, activation="tanh")(noisy)))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(0)
    batch = {problem.x: rng.standard_normal((6, 3)), problem.y_true: rng.standard_normal((6, 2))}
    hessian_batch = {problem.x: batch[problem.x][:3], problem.y_true: batch[problem.y_true][:3]}
    opt = InexactNewtonCG(problem, sess=sess, parameters={"eta_mode": 0, "cg_max_iter": 1,
                                                         "cg_coarse_tolerance": 1e-12})
    assert primed_product(opt.H) is None
    opt.minimize(batch, hessian_batch)
    session_runs[0] = 0
    info = opt.minimize(batch, hessian_batch)
    assert info["cg_iterations"] == 1 and session_runs[0] == 3  # gradient, capture + product, update
    assert opt.fast_path_iterations == 2


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_every_problem_family_is_copied_and_gives_the_same_iterates(kind, arch):
    case = make_case(kind, arch, "float64", seed=1)
    problem = case.problem
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    w0 = problem.get_weights(sess)
    weights, infos = [], []
    for primes, in_run in ((True, False), (False, False), (True, True)):
        problem.set_weights(sess, w0)
        opt = InexactNewtonCG(problem, L2Regularization(problem, 1e-3), sess,
                              parameters={"alpha": 0.1, "cg_max_iter": 3, "eta_mode": 0,
                                          "cg_coarse_tolerance": 0.9})
        opt.primes_first_product, opt.first_step_in_gradient_run = primes, in_run
        infos.append([opt.minimize(batch, hessian_batch) for batch, hessian_batch in zip(
            _batches(case.feed_dict, 3, 5, 1), _batches(case.feed_dict, 3, 3, 2))])
        weights.append(problem.get_weights(sess))
    assert primed_product(opt.H, 1e-3) is not None
    np.testing.assert_array_equal(weights[0], weights[1])
    # the first CG iteration and the update in the gradient's run, after its reads
    np.testing.assert_allclose(weights[2], weights[0], rtol=1e-11, atol=1e-13)
    for info, reference in zip(infos[2], infos[0]):
        assert (info["cg_iterations"], info["cg_reason"]) == (reference["cg_iterations"],
                                                              reference["cg_reason"])
        np.testing.assert_allclose(info["loss"], reference["loss"], rtol=1e-12)


def _scaled_regression():
    """A regression whose input is multiplied by a fed ``placeholder_with_default`` scale."""
    x_in = keras.Input((3,))
    scale = tf.placeholder_with_default(tf.constant(1.0, tf.float32), [], name="scale")
    hidden = keras.layers.Lambda(lambda t: t * scale)(x_in)
    problem = RegressionProblem(keras.Model(x_in, keras.layers.Dense(2, activation="tanh")(hidden)))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(0)
    batches = [{problem.x: rng.standard_normal((6, 3)).astype(np.float32),
                problem.y_true: rng.standard_normal((6, 2)).astype(np.float32), scale: 3.0}
               for _ in range(4)]
    return problem, sess, batches


def test_a_fed_placeholder_with_default_reaches_the_copy():
    problem, sess, batches = _scaled_regression()
    w0 = problem.get_weights(sess)
    weights = []
    for primes in (True, False):
        problem.set_weights(sess, w0)
        opt = InexactNewtonCG(problem, sess=sess, parameters={"alpha": 0.1, "cg_max_iter": 3})
        opt.primes_first_product = primes
        opt.first_step_in_gradient_run = False  # float32: the iterates to round-off only
        for batch in batches:
            opt.minimize(batch, {key: value[:3] if np.ndim(value) else value for key, value in batch.items()})
        weights.append(problem.get_weights(sess))
    np.testing.assert_array_equal(weights[0], weights[1])


def test_fed_tensors_the_copied_first_order_graphs_would_not_see_take_the_original_graph():
    """Adam's step sequence and GD's in-graph Armijo search copy the loss graph: a batch that
    feeds a ``placeholder_with_default`` it reads runs the original graph instead."""
    from hessianlearn.algorithms.adam import Adam
    from hessianlearn.algorithms.gradient_descent import GradientDescent
    problem, sess, batches = _scaled_regression()
    w0 = problem.get_weights(sess)
    runs = {}
    for name, make, several in [
            ("adam", lambda: Adam(problem, sess=sess, parameters={"alpha": 1e-2}), True),
            ("adam", lambda: Adam(problem, sess=sess, parameters={"alpha": 1e-2}), False),
            ("armijo", lambda: GradientDescent(problem, sess=sess, parameters={
                "globalization": "line_search"}), True),
            ("armijo", lambda: GradientDescent(problem, sess=sess, parameters={
                "globalization": "line_search", "fused_step": False}), False)]:
        problem.set_weights(sess, w0)
        opt = make()
        if several:
            opt.minimize_steps(batches)
        else:
            for batch in batches:
                opt.minimize(batch)
        runs.setdefault(name, []).append(problem.get_weights(sess))
    np.testing.assert_array_equal(*runs["adam"])  # one step per call, as minimize
    np.testing.assert_allclose(*runs["armijo"], rtol=1e-6, atol=1e-7)  # the reference step
    assert not np.array_equal(runs["armijo"][0], w0)
