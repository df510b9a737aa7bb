"""The numpy-facing Hessian operator: blocks and remainders, scipy view, wrapper, no mutation,
regularization, bad input."""
import copy

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, eigsh

from cases import PROBLEM_KINDS, explicit_hessian, make_case, make_session
from hessianlearn.problem.hessian import Hessian, HessianWrapper
from hessianlearn.problem.regularization import L2Regularization


@pytest.fixture
def regression():
    case = make_case("regression", "mlp")
    return case.problem, case.feed_dict, make_session(case.problem)


def _stacked_hdw(p, sess, feed, X):
    return np.stack([sess.run(p.Hdw, {**feed, p.dw: X[:, j]}) for j in range(X.shape[1])], axis=1)


@pytest.mark.parametrize("arch", ["mlp", pytest.param("cnn", marks=pytest.mark.slow)])
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_block_products_equal_stacked_hdw_for_every_remainder(kind, arch):
    case = make_case(kind, arch)
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    X = np.random.default_rng(3).standard_normal((p.dimension, 11))
    reference = _stacked_hdw(p, sess, feed, X)
    for block_size in (1, 3, 7):
        H = Hessian(p, sess, block_size=block_size)
        for ncols in (5, 11):  # remainders 0, 2, 5 / 0, 2, 4 and a full block of 1
            out = H(X[:, :ncols], feed)
            assert out.shape == (p.dimension, ncols)
            assert np.max(np.abs(out - reference[:, :ncols])) <= 1e-12 * np.max(np.abs(reference))


def test_problem_hdw_block_placeholder_matches(regression):
    p, feed, sess = regression
    dW, HdW = p._initialize_hessian_blocking(3)
    X = np.random.default_rng(4).standard_normal((p.dimension, 3))
    assert np.allclose(sess.run(HdW, {**feed, dW: X}), _stacked_hdw(p, sess, feed, X), rtol=0, atol=1e-13)
    assert p._hessian_block(3)[1] is HdW  # cached


def test_vector_and_one_column_matrix(regression):
    p, feed, sess = regression
    H = Hessian(p, sess)
    v = np.random.default_rng(5).standard_normal(p.dimension)
    hv = H(v, feed)
    assert hv.shape == (p.dimension,)
    assert np.array_equal(H(v[:, None], feed)[:, 0], hv)
    assert H.quadratics(v, feed) == pytest.approx(v @ hv, rel=1e-12)
    V = np.stack([v, 2 * v], axis=1)
    assert np.allclose(H.quadratics(V, feed), [v @ hv, 4 * v @ hv], rtol=1e-12)


def test_linear_operator_eigsh_matches_dense_eigh(regression):
    p, feed, sess = regression
    H = Hessian(p, sess, block_size=4)
    dense = explicit_hessian(p, sess, feed)
    exact = np.linalg.eigh(dense)[0]
    op = H.as_linear_operator(feed)
    assert isinstance(op, LinearOperator) and op.shape == (p.dimension, p.dimension)
    assert np.allclose(op.matmat(np.eye(p.dimension)), dense, rtol=0, atol=1e-13)
    top = eigsh(op, k=4, which="LA", return_eigenvectors=False, v0=np.ones(p.dimension))
    assert np.allclose(np.sort(top), exact[-4:], rtol=1e-9, atol=1e-12)
    bottom = eigsh(op, k=2, which="SA", return_eigenvectors=False, v0=np.ones(p.dimension))
    assert np.allclose(np.sort(bottom), exact[:2], rtol=1e-9, atol=1e-12)


def test_hessian_wrapper_binds_the_feed(regression):
    p, feed, sess = regression
    H = Hessian(p, sess)
    Hw = HessianWrapper(H, feed)
    assert Hw.dimension == p.dimension and Hw.shape == (p.dimension, p.dimension)
    X = np.random.default_rng(6).standard_normal((p.dimension, 3))
    assert np.array_equal(Hw(X), H(X, feed))
    assert np.array_equal(Hw(X[:, 0]), H(X[:, 0], feed))
    assert Hw.quadratics(X[:, 0]) == pytest.approx(X[:, 0] @ H(X[:, 0], feed), rel=1e-12)
    assert np.allclose(Hw.as_linear_operator().matvec(X[:, 0]), H(X[:, 0], feed), rtol=0, atol=1e-14)


def test_operator_never_mutates_feed_or_inputs(regression):
    p, feed, sess = regression
    H = Hessian(p, sess, block_size=3)
    feed_copy = {k: v.copy() for k, v in feed.items()}
    keys = list(feed)
    X = np.random.default_rng(7).standard_normal((p.dimension, 5))
    X_copy = X.copy()
    H(X, feed)
    H(X[:, 0], feed)
    H.quadratics(X, feed)
    op = H.as_linear_operator(feed)
    op.matvec(X[:, 1])
    HessianWrapper(H, feed)(X)
    assert list(feed) == keys and all(np.array_equal(feed[k], feed_copy[k]) for k in keys)
    assert np.array_equal(X, X_copy)
    # the scipy view holds its own copy of the dict
    feed_before = copy.copy(feed)
    feed[p.x] = feed[p.x] * 0
    assert np.allclose(op.matvec(X[:, 1]), H(X[:, 1], feed_before), rtol=0, atol=1e-14)


def test_regularization_adds_gamma_identity_exactly(regression):
    p, feed, sess = regression
    gamma = 0.37
    reg = L2Regularization(p, gamma=gamma)
    H = Hessian(p, sess, block_size=3)
    Hr = Hessian(p, sess, regularization=reg, block_size=3)
    X = np.random.default_rng(8).standard_normal((p.dimension, 5))
    assert np.array_equal(Hr(X, feed), H(X, feed) + gamma * X)
    assert np.array_equal(Hr(X[:, 0], feed), H(X[:, 0], feed) + gamma * X[:, 0])
    dense = explicit_hessian(p, sess, feed)
    dense_r = Hr(np.eye(p.dimension), feed)
    assert np.allclose(dense_r - dense, gamma * np.eye(p.dimension), rtol=0, atol=1e-13)
    # graph-side regularization tensors agree with the operator
    w = p.get_weights(sess)
    cost, grad, hdw = sess.run([reg.cost, reg.gradient, reg.Hdw], {p.dw: X[:, 0]})
    assert cost == pytest.approx(0.5 * gamma * w @ w, rel=1e-12)
    assert np.allclose(grad, gamma * w, rtol=1e-14) and np.allclose(hdw, gamma * X[:, 0], rtol=1e-14)
    assert not L2Regularization(p, gamma=0.0).is_active


def test_hessian_bad_input(regression):
    p, feed, sess = regression
    H = Hessian(p, sess)
    with pytest.raises(ValueError, match=f"dimension is {p.dimension}"):
        H(np.ones(p.dimension + 1), feed)
    with pytest.raises(ValueError, match="3 dimensions"):
        H(np.ones((p.dimension, 2, 2)), feed)
    with pytest.raises(TypeError, match="numpy vector or matrix"):
        H("abc", feed)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        Hessian(p, sess, block_size=0)
