"""Tests of Lanczos eigenpairs and stochastic Lanczos quadrature."""
import functools
import warnings

import numpy as np
import pytest

from hessianlearn.algorithms.lanczos import (
    lanczos,
    spectral_density,
    stochastic_lanczos_quadrature,
)
from linalg_cases import FORMS, random_orthogonal

N = 100


@functools.lru_cache(maxsize=None)
def _matrix():
    rng = np.random.default_rng(0)
    U = random_orthogonal(N, rng)
    eigenvalues = np.r_[[50.0, 30.0, 20.0, 15.0, 12.0, 10.0],
                        rng.uniform(-3.0, 5.0, N - 8), [-20.0, -40.0]]
    return (U * eigenvalues) @ U.T


@pytest.fixture
def A():
    return _matrix().copy()


@pytest.mark.parametrize("form", FORMS)
def test_lanczos_top_five_match_eigh(A, form):
    A_before = A.copy()
    values, vectors = lanczos(FORMS[form](A), N, 5)
    exact_values, exact_vectors = np.linalg.eigh(A)
    np.testing.assert_allclose(values, exact_values[-5:], rtol=1e-8, atol=1e-8)
    alignment = np.abs(np.sum(vectors * exact_vectors[:, -5:], axis=0))
    np.testing.assert_allclose(alignment, 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(5), atol=1e-10)
    np.testing.assert_array_equal(A, A_before)


def test_lanczos_smallest_and_both_ends(A):
    exact = np.linalg.eigh(A)[0]
    smallest, _ = lanczos(A, N, 2, which="SA")
    np.testing.assert_allclose(smallest, exact[:2], rtol=1e-8)
    both, vectors = lanczos(A, N, 4, which="both")
    np.testing.assert_allclose(both, np.r_[exact[:2], exact[-2:]], rtol=1e-8)
    assert vectors.shape == (N, 4)


def test_lanczos_finds_repeated_eigenvalues():
    # A single start vector only sees one copy of 9; the restart finds the rest.
    D = np.diag(np.r_[[9.0, 9.0, 9.0], np.arange(1.0, 9.0)])
    values, vectors = lanczos(D, 11, 4)
    np.testing.assert_allclose(values, [8.0, 9.0, 9.0, 9.0], rtol=1e-10)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(4), atol=1e-10)


def test_lanczos_full_dimension_and_seeding(A):
    values, _ = lanczos(np.diag([3.0, -1.0, 2.0]), 3, 3)
    np.testing.assert_allclose(values, [-1.0, 2.0, 3.0])
    first = lanczos(A, N, 3, seed=4)
    second = lanczos(A, N, 3, seed=4)
    np.testing.assert_array_equal(first[1], second[1])


def test_lanczos_warns_without_convergence(A):
    with pytest.warns(RuntimeWarning, match="max_iterations"):
        values, _ = lanczos(A, N, 5, max_iterations=6)
    assert values.shape == (5,)


def test_lanczos_rejects_nonsymmetric_operator():
    rng = np.random.default_rng(1)
    B = rng.standard_normal((30, 30))
    with pytest.raises(ValueError, match="not symmetric"):
        lanczos(B, 30, 3)
    with pytest.raises(ValueError, match="not symmetric"):
        stochastic_lanczos_quadrature(B, 30)
    # A symmetric matrix with rounding-level asymmetry passes.
    S = B + B.T
    S[0, 1] += 1e-14
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lanczos(S, 30, 2)


def test_lanczos_bad_inputs(A):
    with pytest.raises(ValueError, match="'k'"):
        lanczos(A, N, N + 1)
    with pytest.raises(ValueError, match="'k'"):
        lanczos(A, N, 0)
    with pytest.raises(ValueError, match="which"):
        lanczos(A, N, 2, which="LM")
    with pytest.raises(ValueError, match="dimension"):
        lanczos(A, N - 1, 2)
    with pytest.raises(ValueError, match="square"):
        lanczos(np.ones((3, 2)), 3, 1)


def test_slq_nodes_weights_moments(A):
    nodes, weights = stochastic_lanczos_quadrature(A, N, probes=40,
                                                   lanczos_steps=25, seed=2)
    assert nodes.shape == weights.shape
    assert np.all(weights >= 0)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    exact = np.linalg.eigvalsh(A)
    # Rademacher probes: sum w theta^p is a Hutchinson estimate of tr(A^p)/n,
    # whose variance per probe is 2 (||A^p||_F^2 - sum_i (A^p)_ii^2).
    for power in (1, 2):
        Ap = np.linalg.matrix_power(A, power)
        error = np.sqrt(2 * (np.sum(Ap ** 2) - np.sum(np.diag(Ap) ** 2)) / 40) / N
        moment = np.sum(weights * nodes ** power)
        assert abs(moment - np.mean(exact ** power)) <= 4 * error
    # The extreme nodes converge to the extreme eigenvalues.
    assert nodes.max() == pytest.approx(exact.max(), rel=1e-6)
    assert nodes.min() == pytest.approx(exact.min(), rel=1e-6)


def test_slq_first_moment_is_hutchinson_over_n(A):
    # Per probe, the quadrature is exact for degree <= 2m-1: sum w theta = z.Az/(n m).
    nodes, weights = stochastic_lanczos_quadrature(A, N, probes=5,
                                                   lanczos_steps=3, seed=3)
    rng = np.random.default_rng(3)
    rng.standard_normal((N, 2))  # the symmetry probes come first
    Z = rng.choice(np.array([-1.0, 1.0]), size=(N, 5))
    expected = np.mean(np.einsum("ij,ij->j", Z, A @ Z)) / N
    assert np.sum(weights * nodes) == pytest.approx(expected, rel=1e-10)


def test_slq_exact_when_steps_reach_dimension():
    eigenvalues = np.array([1.0, 2.0, 2.0, 5.0, -3.0])
    D = np.diag(eigenvalues)
    nodes, weights = stochastic_lanczos_quadrature(D, 5, probes=50,
                                                   lanczos_steps=10)
    # Invariant subspaces stop early; nodes are exact eigenvalues.
    for node in nodes[weights > 1e-12]:
        assert np.min(np.abs(eigenvalues - node)) < 1e-10
    # Rademacher probes weight every eigenvalue equally: weights are exact.
    moments = [np.sum(weights * nodes ** p) for p in (1, 2, 3)]
    np.testing.assert_allclose(moments, [np.mean(eigenvalues ** p) for p in (1, 2, 3)],
                               rtol=1e-10)


@pytest.mark.parametrize("form", FORMS)
def test_spectral_density_integrates_to_one_and_matches_moments(A, form):
    grid, density = spectral_density(FORMS[form](A), N, probes=30,
                                     lanczos_steps=30, seed=1)
    assert grid.shape == density.shape
    assert np.all(density >= 0)
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-12)
    nodes, weights = stochastic_lanczos_quadrature(A, N, probes=30,
                                                   lanczos_steps=30, seed=1)
    mean = np.trapezoid(grid * density, grid)
    assert mean == pytest.approx(np.sum(weights * nodes), rel=1e-3)
    # Broadening keeps the mean and adds sigma^2 to the second moment.
    second = np.trapezoid(grid ** 2 * density, grid)
    sigma = 0.01 * (nodes.max() - nodes.min())
    assert second == pytest.approx(np.sum(weights * nodes ** 2) + sigma ** 2,
                                   rel=1e-3)
    exact = np.linalg.eigvalsh(A)
    error = np.sqrt(2 * (np.sum(A ** 2) - np.sum(np.diag(A) ** 2)) / 30) / N
    assert abs(mean - exact.mean()) <= 4 * error


def test_spectral_density_with_given_grid_and_sigma(A):
    grid = np.linspace(-50.0, 60.0, 2001)
    out_grid, density = spectral_density(A, N, grid=grid, sigma=0.5)
    np.testing.assert_array_equal(out_grid, grid)
    assert np.trapezoid(density, out_grid) == pytest.approx(1.0)
    # Mass concentrates in the bulk [-3, 5].
    bulk = (grid > -5) & (grid < 7)
    assert np.trapezoid(density[bulk], grid[bulk]) > 0.8


def test_spectral_density_bad_inputs(A):
    with pytest.raises(ValueError, match="probes"):
        spectral_density(A, N, probes=0)
    with pytest.raises(ValueError, match="lanczos_steps"):
        spectral_density(A, N, lanczos_steps=0)
    with pytest.raises(ValueError, match="sigma"):
        spectral_density(A, N, sigma=-1.0)
    with pytest.raises(ValueError, match="grid"):
        spectral_density(A, N, grid=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="grid"):
        spectral_density(A, N, grid=np.linspace(1e3, 2e3, 10), sigma=0.1)
    with pytest.raises(ValueError, match="probes"):
        stochastic_lanczos_quadrature(A, N, probes=-1)


def test_default_symmetry_tolerance_follows_the_operator_precision():
    """An asymmetry at float32 round-off level (1e-6 relative) is accepted for a float32
    operator and rejected for a float64 one (default 1e-8)."""
    rng = np.random.default_rng(3)
    B = rng.standard_normal((60, 60))
    S = (B + B.T) / 2
    A = S + 1e-6 * np.linalg.norm(S, 2) * np.triu(rng.standard_normal((60, 60)))
    values, _ = lanczos(A.astype(np.float32), 60, 3, which="LA", seed=0)
    np.testing.assert_allclose(np.sort(values), np.sort(np.linalg.eigvalsh(S))[-3:], rtol=1e-4)
    with pytest.raises(ValueError, match="not symmetric"):
        lanczos(A, 60, 3, which="LA", seed=0)
