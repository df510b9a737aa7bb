"""Float32 operators: Q, T = Q^T(AQ) and U = QV stay float32 (round-off only vs float64)."""
import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator

from hessianlearn.algorithms.low_rank_saddle_free_newton import LowRankSaddleFreeNewton
from hessianlearn.algorithms.randomized_eigensolver import (
    eigensolver_from_range,
    orthonormal_basis,
    randomized_eigensolver,
)


def _symmetric(n, eigenvalues, seed=0):
    V, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return (V * eigenvalues) @ V.T


def _float32_operator(A):
    A32 = A.astype(np.float32)
    return LinearOperator(A.shape, matvec=lambda x: A32 @ x, matmat=lambda X: A32 @ X,
                          rmatvec=lambda x: A32 @ x, dtype=np.float32)


def test_orthonormal_basis_float32_second_pass():
    rng = np.random.default_rng(2)
    U, _ = np.linalg.qr(rng.standard_normal((600, 15)))
    Y = (U @ np.diag(np.logspace(0, -3, 15))).astype(np.float32)  # condition number 1e3
    before = Y.copy()
    Q = orthonormal_basis(Y, dtype=np.float32)
    np.testing.assert_array_equal(Y, before)
    assert Q.dtype == np.float32 and Q.shape == Y.shape
    Q64 = Q.astype(np.float64)
    np.testing.assert_allclose(Q64.T @ Q64, np.eye(15), atol=2e-6)
    Y64 = Y.astype(np.float64)
    assert np.linalg.norm(Y64 - Q64 @ (Q64.T @ Y64)) <= 1e-6 * np.linalg.norm(Y64)


def test_orthonormal_basis_rejects_other_dtypes():
    with pytest.raises(ValueError, match="'dtype' must be float32 or float64"):
        orthonormal_basis(np.ones((4, 2)), dtype=np.int64)


def test_float32_operator_matches_float64_to_float32_round_off():
    n, k = 120, 6
    eigenvalues = np.concatenate([[9.0, -7.0, 5.0, 3.0, -2.0, 1.5], 1e-8 * np.linspace(1, 2, n - 6)])
    A = _symmetric(n, eigenvalues)
    values64, vectors64 = randomized_eigensolver(A, n, k, p=4, seed=3)
    values32, vectors32 = randomized_eigensolver(_float32_operator(A), n, k, p=4, seed=3)
    assert vectors64.dtype == np.float64 and vectors32.dtype == np.float32
    assert values32.dtype == np.float64
    np.testing.assert_allclose(values64, [9.0, -7.0, 5.0, 3.0, -2.0, 1.5], rtol=1e-10)
    np.testing.assert_allclose(values32, values64, rtol=1e-5)
    U = vectors32.astype(np.float64)
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=2e-6)
    # Same eigenvectors up to sign.
    np.testing.assert_allclose(np.abs(np.sum(U * vectors64, axis=0)), np.ones(k), atol=1e-5)


def test_eigensolver_from_range_casts_q_for_float32_operator():
    n = 50
    A = _symmetric(n, np.linspace(-3.0, 4.0, n), seed=4)
    Q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((n, 8)))
    before = Q.copy()
    values32, vectors32 = eigensolver_from_range(_float32_operator(A), Q)
    values64, vectors64 = eigensolver_from_range(A, Q)
    np.testing.assert_array_equal(Q, before)
    assert vectors32.dtype == np.float32 and vectors64.dtype == np.float64
    np.testing.assert_allclose(values32, values64, rtol=1e-5, atol=1e-6)


def test_direction_float32_eigenvectors_match_float64():
    n, k = 80, 5
    rng = np.random.default_rng(6)
    U, _ = np.linalg.qr(rng.standard_normal((n, k)))
    g = rng.standard_normal(n)
    eigenvalues = np.array([4.0, -2.0, 1.0, 0.5, 0.1])
    optimizer = LowRankSaddleFreeNewton.__new__(LowRankSaddleFreeNewton)
    optimizer.regularization = None
    optimizer.parameters = {"default_damping": 1e-3}
    p64 = optimizer.direction(g, eigenvalues, U)
    p32 = optimizer.direction(g, eigenvalues, U.astype(np.float32))
    assert p32.dtype == np.float64
    # Explicit (U |lambda| U^T + gamma I)^{-1} g in float64.
    gamma = 1e-3
    expected = -np.linalg.solve((U * np.abs(eigenvalues)) @ U.T + gamma * np.eye(n), g)
    np.testing.assert_allclose(p64, expected, rtol=1e-9, atol=1e-9 * np.linalg.norm(expected))
    np.testing.assert_allclose(p32, expected, rtol=0, atol=1e-6 * np.linalg.norm(expected))


def _tiny_regression(hessian_block_size):
    from hessianlearn import keras, tf
    from hessianlearn.problem.regression_problem import RegressionProblem

    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    model = keras.Sequential([keras.layers.Dense(2, activation="tanh", input_shape=(3,))])
    problem = RegressionProblem(model, hessian_block_size=hessian_block_size)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return problem, sess, {problem.x: X, problem.y_true: Y}


@pytest.mark.parametrize("problem_block, expected", [(None, 5), (2, 2)])
def test_fixed_rank_lrsfn_runs_k_plus_p_columns_in_one_block(float64, problem_block, expected):
    problem, sess, feed = _tiny_regression(problem_block)
    opt = LowRankSaddleFreeNewton(problem, sess=sess, parameters={  # the numpy path's blocks
        "hessian_low_rank": 3, "oversample": 2, "alpha": 0.1, "fused_step": False})
    w0 = problem.get_weights(sess)
    opt.minimize(feed)
    assert opt.H.block_size == expected
    assert opt.rank == 3 and np.all(np.isfinite(problem.get_weights(sess) - w0))
