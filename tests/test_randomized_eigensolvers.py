"""Tests of the randomized eigensolver, range finders and variance-based eigendecomposition."""
import numpy as np
import pytest

from hessianlearn.algorithms.randomized_eigensolver import (
    eigensolver_from_range,
    randomized_eigensolver,
)
from hessianlearn.algorithms.range_finders import (
    block_range_finder,
    noise_aware_adaptive_range_finder,
)
from hessianlearn.algorithms.variance_based_nystrom import variance_based_nystrom
from linalg_cases import FORMS, DimensionOperator, symmetric_matrix

N = 120


def decaying_spectrum():
    return 10.0 ** (-np.arange(N) / 1.5)


def indefinite_spectrum():
    signs = np.where(np.arange(N) % 3 == 1, -1.0, 1.0)
    return signs * 10.0 ** (-np.arange(N) / 1.5)


SPECTRA = {"decaying": decaying_spectrum, "indefinite": indefinite_spectrum}


def reference(A, k):
    values, vectors = np.linalg.eigh(A)
    order = np.argsort(-np.abs(values))[:k]
    return values[order], vectors[:, order]


def assert_eigenpairs_match(values, vectors, A, k, rtol):
    exact_values, exact_vectors = reference(A, k)
    np.testing.assert_allclose(values[:k], exact_values, rtol=rtol)
    # Eigenvectors up to sign.
    alignment = np.abs(np.sum(vectors[:, :k] * exact_vectors, axis=0))
    np.testing.assert_allclose(alignment, 1.0, atol=rtol)


def noisy_partitions(A, count, level, seed=1):
    """Symmetric perturbations of A that average back to A exactly."""
    rng = np.random.default_rng(seed)
    noise = []
    for _ in range(count):
        E = rng.standard_normal(A.shape)
        noise.append(level * (E + E.T) / 2)
    mean = sum(noise) / count
    return [A + E - mean for E in noise]


@pytest.mark.parametrize("spectrum", SPECTRA)
@pytest.mark.parametrize("form", FORMS)
def test_randomized_eigensolver_recovers_top_eigenpairs(spectrum, form):
    A = symmetric_matrix(SPECTRA[spectrum]())
    A_before = A.copy()
    values, vectors = randomized_eigensolver(FORMS[form](A), N, 5, p=10)
    assert values.shape == (5,) and vectors.shape == (N, 5)
    assert_eigenpairs_match(values, vectors, A, 5, rtol=1e-6)
    assert np.all(np.diff(np.abs(values)) <= 0)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(5), atol=1e-12)
    np.testing.assert_array_equal(A, A_before)


def test_randomized_eigensolver_keeps_negative_eigenvalues():
    A = symmetric_matrix(indefinite_spectrum())
    values, _ = randomized_eigensolver(A, N, 3)
    assert values[1] < 0


def test_randomized_eigensolver_seeding():
    A = symmetric_matrix(decaying_spectrum())
    first = randomized_eigensolver(A, N, 4, seed=7)
    second = randomized_eigensolver(A, N, 4, seed=7)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    # A Generator is used and advanced: two calls see different test matrices.
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    a = randomized_eigensolver(A, N, 4, p=0, seed=rng)
    assert rng.bit_generator.state != state
    b = randomized_eigensolver(A, N, 4, p=0, seed=rng)
    assert not np.array_equal(a[1], b[1])


def test_eigensolver_from_range_is_rayleigh_ritz():
    A = symmetric_matrix(decaying_spectrum())
    _, exact_vectors = reference(A, 6)
    values, vectors = eigensolver_from_range(A, exact_vectors)
    assert_eigenpairs_match(values, vectors, A, 6, rtol=1e-10)


def test_randomized_eigensolver_bad_inputs():
    A = symmetric_matrix(decaying_spectrum())
    with pytest.raises(ValueError, match="'k'"):
        randomized_eigensolver(A, N, N + 1)
    with pytest.raises(ValueError, match="'k'"):
        randomized_eigensolver(A, N, 0)
    with pytest.raises(ValueError, match="dimension"):
        randomized_eigensolver(A, N - 1, 3)
    with pytest.raises(ValueError, match="'p'"):
        randomized_eigensolver(A, N, 3, p=-1)
    with pytest.raises(TypeError, match="seed"):
        randomized_eigensolver(A, N, 3, seed="zero")
    with pytest.raises(ValueError, match="'Q'"):
        eigensolver_from_range(A, np.ones(N))
    # k + p > n: oversampling is reduced, not an error.
    values, _ = randomized_eigensolver(np.diag([3.0, 2.0, 1.0]), 3, 2)
    np.testing.assert_allclose(values, [3.0, 2.0])


@pytest.mark.parametrize("spectrum", SPECTRA)
@pytest.mark.parametrize("epsilon", [1e-3, 1e-7])
def test_block_range_finder_meets_epsilon(spectrum, epsilon):
    A = symmetric_matrix(SPECTRA[spectrum]())
    Q, info = block_range_finder(A, N, epsilon, block_size=5, return_info=True)
    np.testing.assert_allclose(Q.T @ Q, np.eye(Q.shape[1]), atol=1e-12)
    assert np.linalg.norm(A - Q @ (Q.T @ A), 2) <= epsilon
    assert info["reason"] == "epsilon"
    assert info["operator_columns"] == 5 * info["blocks"]
    # It stops near the needed rank, not at n.
    needed = np.count_nonzero(np.abs(SPECTRA[spectrum]()) > epsilon)
    assert needed <= Q.shape[1] <= needed + 15


def test_block_range_finder_limits_and_exhaustion():
    A = symmetric_matrix(decaying_spectrum())
    Q = block_range_finder(A, N, 0.0, block_size=4, max_vectors=10)
    assert Q.shape == (N, 10)
    low_rank = symmetric_matrix(np.r_[np.ones(6), np.zeros(N - 6)])
    Q, info = block_range_finder(low_rank, N, 0.0, block_size=4, return_info=True)
    assert Q.shape[1] == 6
    assert info["reason"] in ("exhausted", "epsilon")


@pytest.mark.parametrize("form", FORMS)
def test_block_range_finder_forms_and_seeds(form):
    A = symmetric_matrix(indefinite_spectrum())
    Q1 = block_range_finder(FORMS[form](A), N, 1e-5, 6, seed=3)
    Q2 = block_range_finder(A, N, 1e-5, 6, seed=3)
    np.testing.assert_array_equal(Q1, Q2)


def test_block_range_finder_bad_inputs():
    A = symmetric_matrix(decaying_spectrum())
    with pytest.raises(ValueError, match="epsilon"):
        block_range_finder(A, N, -1.0, 5)
    with pytest.raises(ValueError, match="block_size"):
        block_range_finder(A, N, 1e-3, 0)
    with pytest.raises(ValueError, match="square"):
        block_range_finder(np.ones((N, N + 1)), N, 1e-3, 5)
    with pytest.raises(ValueError, match="dimension"):
        block_range_finder(A, N + 1, 1e-3, 5)


def test_noise_aware_range_finder_stops_earlier_when_partitions_are_noisy():
    A = symmetric_matrix(decaying_spectrum())
    clean = [A, A, A, A]
    noisy = noisy_partitions(A, 4, level=1e-4)
    Q_clean, info_clean = noise_aware_adaptive_range_finder(
        A, clean, block_size=5, noise_tolerance=0.5, epsilon=1e-9,
        max_vectors=60, return_info=True)
    Q_noisy, info_noisy = noise_aware_adaptive_range_finder(
        A, noisy, block_size=5, noise_tolerance=0.5, epsilon=1e-9,
        max_vectors=60, return_info=True)
    assert info_clean["reason"] == "epsilon"
    assert np.linalg.norm(A - Q_clean @ (Q_clean.T @ A), 2) <= 1e-9
    assert info_noisy["reason"] == "noise"
    assert 0 < Q_noisy.shape[1] < Q_clean.shape[1]
    assert info_noisy["noise_ratios"][-1] > 0.5
    np.testing.assert_allclose(Q_noisy.T @ Q_noisy, np.eye(Q_noisy.shape[1]),
                               atol=1e-12)
    # The directions it kept resolve A down to the level of the partition noise.
    residual = np.linalg.norm(A - Q_noisy @ (Q_noisy.T @ A), 2)
    noise_level = max(np.linalg.norm(P - A, 2) for P in noisy)
    assert residual <= 3 * noise_level


def test_noise_aware_range_finder_inputs():
    A = symmetric_matrix(decaying_spectrum())
    with pytest.raises(ValueError, match="partition_ops"):
        noise_aware_adaptive_range_finder(A, [A], 5, 0.5, 1e-6, 20)
    with pytest.raises(ValueError, match=r"partition_ops\[1\]"):
        noise_aware_adaptive_range_finder(A, [A, np.eye(3)], 5, 0.5, 1e-6, 20)
    with pytest.raises(ValueError, match="noise_tolerance"):
        noise_aware_adaptive_range_finder(A, [A, A], 5, 0.0, 1e-6, 20)
    forms = [FORMS[f](A) for f in FORMS]
    Q1 = noise_aware_adaptive_range_finder(DimensionOperator(A), forms, 5, 0.5,
                                           1e-6, 20, seed=2)
    Q2 = noise_aware_adaptive_range_finder(A, [A, A], 5, 0.5, 1e-6, 20, seed=2)
    np.testing.assert_array_equal(Q1, Q2)


@pytest.mark.parametrize("spectrum", SPECTRA)
@pytest.mark.parametrize("form", FORMS)
def test_variance_based_nystrom_recovers_top_eigenpairs(spectrum, form):
    A = symmetric_matrix(SPECTRA[spectrum]())
    A_before = A.copy()
    partitions = [FORMS[form](A)] * 3
    values, vectors, info = variance_based_nystrom(
        FORMS[form](A), partitions, N, block_size=5, max_vectors=15,
        return_info=True)
    assert info["reason"] == "max_vectors" and info["bad_vectors"] == 0
    assert values.shape == (15,) and vectors.shape == (N, 15)
    assert np.all(np.diff(np.abs(values)) <= 0)
    assert_eigenpairs_match(values, vectors, A, 5, rtol=1e-6)
    np.testing.assert_array_equal(A, A_before)


def test_variance_based_nystrom_stops_at_noise_and_keeps_trusted_pairs():
    A = symmetric_matrix(indefinite_spectrum())
    partitions = noisy_partitions(A, 5, level=1e-5)
    values, vectors, info = variance_based_nystrom(
        A, partitions, N, block_size=4, std_tolerance=0.5, max_bad_vectors=2,
        return_info=True)
    assert info["reason"] == "bad_vectors"
    assert info["basis_size"] < N
    assert np.all(info["relative_std"] <= 0.5)
    assert np.any(values < 0)
    # The trusted pairs are accurate: residuals far below the noise-free tail.
    residuals = np.linalg.norm(A @ vectors - vectors * values, axis=0)
    assert np.all(residuals <= 1e-3)
    assert_eigenpairs_match(values, vectors, A, 3, rtol=1e-6)


def test_variance_based_nystrom_seeding_and_inputs():
    A = symmetric_matrix(decaying_spectrum())
    partitions = noisy_partitions(A, 3, level=1e-6)
    first = variance_based_nystrom(A, partitions, N, block_size=5, seed=4)
    second = variance_based_nystrom(A, partitions, N, block_size=5, seed=4)
    np.testing.assert_array_equal(first[0], second[0])
    rng = np.random.default_rng(4)
    variance_based_nystrom(A, partitions, N, block_size=5, seed=rng)
    assert rng.bit_generator.state != np.random.default_rng(4).bit_generator.state
    with pytest.raises(ValueError, match="partition_ops"):
        variance_based_nystrom(A, [A], N)
    with pytest.raises(TypeError, match="partition_ops"):
        variance_based_nystrom(A, A.__iter__(), N)
    with pytest.raises(ValueError, match="std_tolerance"):
        variance_based_nystrom(A, [A, A], N, std_tolerance=-1.0)
    with pytest.raises(ValueError, match="max_bad_vectors"):
        variance_based_nystrom(A, [A, A], N, max_bad_vectors=0)
