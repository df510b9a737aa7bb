"""Tests of the Hutchinson, Hutch++ and diagonal estimators."""
import functools

import numpy as np
import pytest

from hessianlearn.algorithms.trace_estimators import (
    hutchinson_diagonal,
    hutchinson_trace,
    hutchpp_trace,
)
from linalg_cases import FORMS, random_orthogonal

N = 80


@functools.lru_cache(maxsize=None)
def _matrix():
    rng = np.random.default_rng(0)
    U = random_orthogonal(N, rng)
    eigenvalues = np.r_[10.0 * 0.7 ** np.arange(20), rng.uniform(-0.5, 1.0, N - 20)]
    return (U * eigenvalues) @ U.T


@pytest.fixture
def A():
    return _matrix().copy()


@pytest.mark.parametrize("estimator, probes", [(hutchinson_trace, 30),
                                               (hutchpp_trace, 30)])
@pytest.mark.parametrize("form", FORMS)
def test_trace_within_three_standard_errors(A, estimator, probes, form):
    A_before = A.copy()
    exact = np.trace(A)
    estimate, error = estimator(FORMS[form](A), N, probes, seed=1)
    assert np.isfinite(error) and error > 0
    assert abs(estimate - exact) <= 3 * error
    np.testing.assert_array_equal(A, A_before)


@pytest.mark.parametrize("estimator", [hutchinson_trace, hutchpp_trace])
def test_trace_error_shrinks_like_inverse_square_root(A, estimator):
    exact = np.trace(A)

    def mean_error(probes):
        return np.mean([abs(estimator(A, N, probes, seed=s)[0] - exact)
                        for s in range(40)])

    ratio = mean_error(12) / mean_error(192)
    # 1/sqrt(probes) predicts 4; Hutch++ can do better, never much worse.
    assert ratio > 2.5


def test_hutchpp_beats_hutchinson_on_decaying_spectrum():
    rng = np.random.default_rng(2)
    U, _ = np.linalg.qr(rng.standard_normal((N, N)))
    A = (U * 0.5 ** np.arange(N)) @ U.T
    exact = np.trace(A)
    plain = np.mean([abs(hutchinson_trace(A, N, 30, seed=s)[0] - exact)
                     for s in range(20)])
    plus = np.mean([abs(hutchpp_trace(A, N, 30, seed=s)[0] - exact)
                    for s in range(20)])
    assert plus < 0.1 * plain


def test_hutchinson_standard_error_matches_observed_spread(A):
    estimates = [hutchinson_trace(A, N, 20, seed=s) for s in range(200)]
    values = np.array([e[0] for e in estimates])
    errors = np.array([e[1] for e in estimates])
    assert np.std(values) == pytest.approx(np.mean(errors), rel=0.25)


def test_diagonal_estimate_converges(A):
    exact = np.diag(A)
    few, few_error = hutchinson_diagonal(A, N, 10, seed=3)
    many, many_error = hutchinson_diagonal(A, N, 1000, seed=3)
    assert few.shape == many_error.shape == (N,)
    assert np.linalg.norm(many - exact) < 0.3 * np.linalg.norm(few - exact)
    assert np.all(many_error < few_error)
    # Entrywise within 4 standard errors for the many-probe estimate.
    assert np.all(np.abs(many - exact) <= 4 * many_error + 1e-12)


@pytest.mark.parametrize("form", FORMS)
def test_diagonal_is_exact_for_diagonal_matrix(form):
    D = np.diag(np.arange(1.0, 9.0))
    estimate, error = hutchinson_diagonal(FORMS[form](D), 8, 3)
    np.testing.assert_allclose(estimate, np.arange(1.0, 9.0))
    np.testing.assert_allclose(error, 0.0, atol=1e-12)


def test_seeding(A):
    assert hutchinson_trace(A, N, 9, seed=5) == hutchinson_trace(A, N, 9, seed=5)
    assert hutchpp_trace(A, N, 9, seed=5) == hutchpp_trace(A, N, 9, seed=5)
    rng = np.random.default_rng(5)
    first = hutchinson_trace(A, N, 9, seed=rng)
    second = hutchinson_trace(A, N, 9, seed=rng)
    assert first != second
    assert first == hutchinson_trace(A, N, 9, seed=5)


def test_single_probe_has_nan_standard_error(A):
    _, error = hutchinson_trace(A, N, 1)
    assert np.isnan(error)


@pytest.mark.parametrize("estimator", [hutchinson_trace, hutchpp_trace,
                                       hutchinson_diagonal])
def test_bad_inputs(A, estimator):
    for probes in (0, -3):
        with pytest.raises(ValueError, match="probes"):
            estimator(A, N, probes)
    with pytest.raises(TypeError, match="probes"):
        estimator(A, N, 3.0)
    with pytest.raises(ValueError, match="dimension"):
        estimator(A, N + 1, 3)
    with pytest.raises(ValueError, match="square"):
        estimator(np.ones((3, 4)), 3, 3)
    with pytest.raises(TypeError, match="'n'"):
        estimator(A, None, 3)
    with pytest.raises(TypeError, match="Aop"):
        estimator("A", N, 3)


def test_plain_callable_with_dimension(A):
    assert hutchinson_trace(lambda x: A @ x, N, 6) == hutchinson_trace(A, N, 6)


def test_hutchpp_needs_multiple_of_three(A):
    with pytest.raises(ValueError, match="multiple of 3"):
        hutchpp_trace(A, N, 10)
