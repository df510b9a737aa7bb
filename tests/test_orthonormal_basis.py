"""orthonormal_basis: Cholesky QR twice, Householder fallback for ill-conditioned blocks."""
import numpy as np
import pytest

from hessianlearn.algorithms.randomized_eigensolver import orthonormal_basis


def _check_basis(Y, Q):
    m = Y.shape[1]
    assert Q.shape == Y.shape
    np.testing.assert_allclose(Q.T @ Q, np.eye(m), atol=1e-12)
    # Same range: projecting Y onto span(Q) leaves nothing.
    residual = Y - Q @ (Q.T @ Y)
    assert np.linalg.norm(residual) <= 1e-10 * np.linalg.norm(Y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_well_conditioned_block(dtype):
    Y = np.random.default_rng(0).standard_normal((500, 12)).astype(dtype)
    before = Y.copy()
    Q = orthonormal_basis(Y)
    np.testing.assert_array_equal(Y, before)  # input untouched
    _check_basis(Y.astype(np.float64), Q)


@pytest.mark.parametrize("condition", [1e7, 1e12])
def test_ill_conditioned_block_falls_back_to_householder(condition):
    rng = np.random.default_rng(1)
    U, _ = np.linalg.qr(rng.standard_normal((400, 10)))
    V, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    Y = U @ np.diag(np.logspace(0, -np.log10(condition), 10)) @ V.T
    Q = orthonormal_basis(Y)
    np.testing.assert_allclose(Q.T @ Q, np.eye(10), atol=1e-12)
    assert np.linalg.norm(Y - Q @ (Q.T @ Y)) <= 1e-12 * np.linalg.norm(Y)
