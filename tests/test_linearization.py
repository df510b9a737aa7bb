"""Curvature products at a captured point (``at_point``, :mod:`hessianlearn.problem.linearization`)
against the explicit float64 Hessians of the MLP and CNN cases."""
import numpy as np
import pytest

from hessianlearn import tf
from hessianlearn.problem import GaussNewton, Hessian, L2Regularization
from hessianlearn.problem.hessian_products import hessian_block_product
from hessianlearn.problem.linearization import linearization
from hessianlearn.utilities import reduction
from cases import PROBLEM_KINDS, make_case
from test_hessian_products import _relative, case, references  # noqa: F401 (fixtures)


@pytest.mark.parametrize("blocks", [True, False])
def test_products_at_point_equal_the_explicit_hessian(case, blocks):
    problem, feed, sess, rng, H = case
    A = Hessian(problem, sess, block_size=3).at_point(feed, blocks=blocks)
    assert A.dimension == problem.dimension
    X = rng.standard_normal((problem.dimension, 5))  # a full block and a zero-padded one
    assert _relative(A(X), H @ X) < 1e-12
    assert _relative(A(X[:, 0]), H @ X[:, 0]) < 1e-12
    np.testing.assert_allclose(A.quadratics(X), np.einsum("ij,ij->j", X, H @ X), rtol=1e-11)
    L = A.as_linear_operator()
    assert _relative(L.matvec(X[:, 1]), H @ X[:, 1]) < 1e-12


@pytest.mark.parametrize("first", ["vector", "matrix"])
def test_deferred_capture_runs_with_the_first_product_and_stays_frozen(case, first, monkeypatch):
    """``defer=True``: no run at ``at_point``; the first vector product captures in its own
    run (one run fewer than capture + product), a first matrix captures before its block;
    then the point is frozen as an eager one, and a later point retires it."""
    problem, feed, sess, rng, H = case
    X = rng.standard_normal((problem.dimension, 3))
    runs = []
    counted = reduction.run  # every product and capture run goes through it
    monkeypatch.setattr(reduction, "run", lambda *a, **k: runs.append(1) or counted(*a, **k))
    A = Hessian(problem, sess, block_size=3).at_point(feed, defer=True)
    assert runs == []
    first_product = A(X[:, 0]) if first == "vector" else A(X)
    assert len(runs) == (1 if first == "vector" else 2)
    monkeypatch.undo()
    assert _relative(first_product, H @ X[:, 0] if first == "vector" else H @ X) < 1e-12
    w0 = problem.get_weights(sess)
    problem.set_weights(sess, w0 + 0.3 * rng.standard_normal(problem.dimension))
    assert _relative(A(X), H @ X) < 1e-12 and _relative(A(X[:, 1]), H @ X[:, 1]) < 1e-12
    problem.set_weights(sess, w0)
    later = Hessian(problem, sess).at_point(feed, defer=True)
    with pytest.raises(RuntimeError, match="at_point again"):
        A(X[:, 0])
    assert _relative(later(X[:, 2]), H @ X[:, 2]) < 1e-12


def test_point_is_frozen_until_captured_again(case):
    """Changing the weights after the capture changes nothing; a new capture moves."""
    problem, feed, sess, rng, H = case
    A = Hessian(problem, sess, block_size=2).at_point(feed)
    x = rng.standard_normal(problem.dimension)
    w0 = problem.get_weights(sess)
    problem.set_weights(sess, w0 + 0.3 * rng.standard_normal(problem.dimension))
    fresh = Hessian(problem, sess)(x, feed)
    assert _relative(fresh, H @ x) > 1e-3  # the Hessian did move
    assert _relative(A(x), H @ x) < 1e-12
    moved = Hessian(problem, sess, block_size=2).at_point(feed)
    assert _relative(moved(x), fresh) < 1e-12
    assert _relative(moved(np.stack([x, 2 * x], axis=1))[:, 1], 2 * fresh) < 1e-12
    problem.set_weights(sess, w0)


def test_a_later_capture_retires_the_earlier_point(case):
    """Points of one problem share the capture variables: an older point then refuses to
    run instead of silently giving the newer point's products."""
    problem, feed, sess, rng, H = case
    A = Hessian(problem, sess).at_point(feed)
    x = rng.standard_normal(problem.dimension)
    first = A(x)
    B = Hessian(problem, sess).at_point(feed)
    with pytest.raises(RuntimeError, match="at_point again"):
        A(x)
    np.testing.assert_array_equal(B(x), first)


def test_capture_in_a_run_of_ones_own(case):
    """capture_op fetched with the gradient, then at_point(captured=True): the same products."""
    problem, feed, sess, rng, H = case
    H_op = Hessian(problem, sess, block_size=2)
    old = H_op.at_point(feed)
    g, _ = sess.run([problem.gradient, H_op.capture_op()], feed)
    A = H_op.at_point(feed, captured=True)
    X = rng.standard_normal((problem.dimension, 3))
    assert _relative(A(X), H @ X) < 1e-12
    with pytest.raises(RuntimeError, match="at_point again"):  # retired by capture_op
        old(X[:, 0])
    with tf.Session(graph=problem._graph) as other:  # nothing captured in this session
        with pytest.raises(ValueError, match="captured=True"):
            Hessian(problem, other).at_point(feed, captured=True)


def test_regularization_and_layer_blocks_at_point(case):
    problem, feed, sess, rng, H = case
    reg = L2Regularization(problem, gamma=0.25)
    x = rng.standard_normal(problem.dimension)
    A = Hessian(problem, sess, regularization=reg).at_point(feed)
    assert _relative(A(x), H @ x + 0.25 * x) < 1e-12
    name = next(iter(problem.layer_descriptors))
    s = problem.layer_descriptors[name]["slice"]
    B = Hessian(problem, sess, layer_name=name).at_point(feed)
    assert _relative(B(x[s]), H[s, s] @ x[s]) < 1e-12


def test_repeated_captures_do_not_grow_the_graph(case):
    problem, feed, sess, rng, _ = case
    Hessian(problem, sess, block_size=2).at_point(feed)
    count = len(problem._graph.get_operations())
    for _ in range(3):
        Hessian(problem, sess, block_size=2).at_point(feed)
    assert len(problem._graph.get_operations()) == count


def test_gauss_newton_at_point_equals_fresh(case):
    problem, feed, sess, rng, _ = case
    try:
        G = GaussNewton(problem, sess, block_size=2)
        X = rng.standard_normal((problem.dimension, 3))
        fresh = G(X, feed)
    except NotImplementedError:
        pytest.skip("no Gauss-Newton matrix for this loss")
    assert _relative(G.at_point(feed)(X), fresh) < 1e-12


def test_direction_free_product_is_refused(case):
    problem = case[0]
    with pytest.raises(ValueError, match="does not depend"):
        linearization(problem, problem.dw, problem.gradient)


def test_products_through_control_flow_are_refused(case):
    """The dynamic-column block loops over its columns in a tf.while_loop: no partial copy."""
    problem = case[0]
    V = tf.placeholder(problem.dtype, [problem.dimension, None])
    with pytest.raises(NotImplementedError, match="control flow"):
        linearization(problem, V, hessian_block_product(problem, V))


def test_frontier_excludes_the_direction_work(case):
    """The copy reads the batch and weights from the capture: no placeholder of data remains."""
    problem = case[0]
    linear = linearization(problem, problem.dw, problem.Hdw)
    assert linear.frontier
    ancestors, stack = set(), [linear.product.op]
    while stack:
        op = stack.pop()
        if op not in ancestors:
            ancestors.add(op)
            stack.extend(t.op for t in op.inputs)
    placeholders = {op.name for op in ancestors if op.type == "Placeholder"}
    assert placeholders == {linear.direction.op.name}
    assert tf.float64 == linear.product.dtype


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_every_problem_family_at_point_equals_fresh(kind, arch):
    """VAE, GAN (block diagonal), H1 (derivative loss), several-input Keras models: the copy
    carries every family's product graph; the capture includes fed noise."""
    case = make_case(kind, arch, "float64", hessian_block_size=2)
    problem, feed = case.problem, case.feed_dict
    with tf.Session(graph=problem._graph) as sess:
        sess.run(tf.global_variables_initializer())
        X = np.random.default_rng(1).standard_normal((problem.dimension, 3))
        H = Hessian(problem, sess)
        expected = H(X, feed)
        assert _relative(H.at_point(feed)(X), expected) < 1e-12
