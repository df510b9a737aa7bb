"""Armijo line search and trust-region radius rules on known scalar functions."""
import numpy as np
import pytest

from hessianlearn.algorithms.armijo_line_search import ArmijoLineSearch
from hessianlearn.algorithms.trust_region import TrustRegion


def quadratic_phi(w, p):
    """phi(alpha) = f(w + alpha p) for f(w) = w^T w, with a call counter."""
    calls = []

    def phi(alpha):
        calls.append(alpha)
        x = w + alpha * p
        return float(x @ x)

    return phi, calls


def test_armijo_accepts_a_sufficient_decrease_step_without_backtracking():
    w = np.array([1.0, -2.0])
    g = 2 * w
    p = -0.5 * g  # the exact minimizer: phi(1) = 0
    phi, calls = quadratic_phi(w, p)
    alpha, backtracks = ArmijoLineSearch(c1=1e-4).search(phi, w @ w, g @ p, 1.0)
    assert (alpha, backtracks) == (1.0, 0)
    assert calls == [1.0]


def test_armijo_backtracks_to_the_first_step_with_sufficient_decrease():
    # f = w^2 at w = 1, p = -g = -2: phi(a) = (1 - 2a)^2; slope -4.
    # Armijo with c1 = 0.5: (1 - 2a)^2 <= 1 - 2a  <=>  0 <= a <= 1/2. Trials 4, 2, 1, 0.5.
    phi, calls = quadratic_phi(np.array([1.0]), np.array([-2.0]))
    alpha, backtracks = ArmijoLineSearch(c1=0.5, backtracking_factor=0.5).search(phi, 1.0, -4.0, 4.0)
    assert (alpha, backtracks) == (0.5, 3)
    assert calls == [4.0, 2.0, 1.0, 0.5]
    # A factor of 0.1 from 4: trials 4, 0.4 -> accepted at 0.4 after one backtrack.
    phi, calls = quadratic_phi(np.array([1.0]), np.array([-2.0]))
    assert ArmijoLineSearch(c1=0.5, backtracking_factor=0.1).search(phi, 1.0, -4.0, 4.0) == \
        pytest.approx((0.4, 1))


def test_armijo_rejects_after_max_backtrack_and_counts_evaluations():
    calls = []

    def phi(alpha):
        calls.append(alpha)
        return 10.0  # never below f0 = 1

    alpha, backtracks = ArmijoLineSearch(max_backtrack=3).search(phi, 1.0, -1.0, 1.0)
    assert (alpha, backtracks) == (0.0, 3)
    assert calls == [1.0, 0.5, 0.25, 0.125]  # backtracks + 1 evaluations


def test_armijo_treats_nan_as_failure():
    values = iter([np.nan, np.inf, 0.0])
    alpha, backtracks = ArmijoLineSearch().search(lambda a: next(values), 1.0, -1.0, 1.0)
    assert (alpha, backtracks) == (0.25, 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"c1": 0.0}, "c1"), ({"c1": 1.0}, "c1"), ({"backtracking_factor": 1.5}, "backtracking_factor"),
    ({"max_backtrack": -1}, "max_backtrack"), ({"max_backtrack": 2.5}, "max_backtrack"),
])
def test_armijo_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ArmijoLineSearch(**kwargs)


def test_armijo_bad_search_arguments():
    ls = ArmijoLineSearch()
    with pytest.raises(ValueError, match="not a descent direction"):
        ls.search(lambda a: 0.0, 1.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="alpha0"):
        ls.search(lambda a: 0.0, 1.0, -0.5, 0.0)
    with pytest.raises(ValueError, match="f0"):
        ls.search(lambda a: 0.0, np.nan, -0.5, 1.0)


def test_trust_region_shrinks_on_poor_agreement_and_rejects_bad_steps():
    tr = TrustRegion(radius=2.0)
    accepted, rho = tr.update(actual_reduction=0.1, predicted_reduction=1.0, step_norm=2.0)
    assert (accepted, rho, tr.radius) == (True, 0.1, 0.5)  # rho < 0.25: shrink, but rho > 0.05
    accepted, rho = tr.update(actual_reduction=-1.0, predicted_reduction=1.0, step_norm=0.5)
    assert (accepted, rho, tr.radius) == (False, -1.0, 0.125)
    accepted, rho = tr.update(actual_reduction=np.nan, predicted_reduction=1.0, step_norm=0.1)
    assert not accepted and rho == -np.inf and tr.radius == 0.03125


def test_trust_region_grows_only_at_the_boundary_and_up_to_max_radius():
    tr = TrustRegion(radius=1.0, max_radius=3.0)
    assert tr.update(0.9, 1.0, step_norm=0.5) == (True, 0.9)
    assert tr.radius == 1.0  # interior step: keep
    assert tr.update(0.9, 1.0, step_norm=1.0) == (True, 0.9)
    assert tr.radius == 2.0
    tr.update(1.0, 1.0, step_norm=2.0)
    assert tr.radius == 3.0  # capped
    assert tr.update(0.5, 1.0, step_norm=3.0) == (True, 0.5)
    assert tr.radius == 3.0  # 0.25 <= rho <= 0.75: keep


def test_trust_region_zero_step_and_bad_settings():
    tr = TrustRegion(radius=1.0)
    assert tr.update(0.0, 0.0, 0.0) == (True, 1.0)
    for kwargs in ({"radius": 0.0}, {"radius": 2.0, "max_radius": 1.0}, {"shrink_factor": 1.0},
                   {"grow_factor": 0.5}, {"accept_threshold": 0.3}, {"grow_threshold": 0.2}):
        with pytest.raises(ValueError):
            TrustRegion(**kwargs)
