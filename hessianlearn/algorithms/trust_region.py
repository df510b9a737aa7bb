"""Trust-region radius management from the ratio of actual to predicted reduction."""
import numbers

import numpy as np

__all__ = ["TrustRegion"]


def _check_real(value, argument, low, high, low_open=True, high_open=True):
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and np.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{argument} must be a real number in {lo}{low}, {high}{hi}, got {value!r}.")
    return float(value)


class TrustRegion:
    """The radius ``Delta`` of a trust region and its update rule.

    After a trial step ``p`` with model ``m(p) = f + g^T p + p^T H p / 2``,

    .. math::  \\rho = \\frac{f(w) - f(w + p)}{m(0) - m(p)}
               = \\frac{\\text{actual reduction}}{\\text{predicted reduction}} .

    * ``rho < shrink_threshold``: ``Delta <- shrink_factor * Delta``;
    * ``rho > grow_threshold`` and ``||p|| >= (1 - 1e-6) Delta`` (the step reached
      the boundary): ``Delta <- min(grow_factor * Delta, max_radius)``;
    * otherwise ``Delta`` is kept.

    The step is accepted when ``rho > accept_threshold``. (Nocedal & Wright,
    Numerical Optimization, Algorithm 4.1.)

    Parameters
    ----------
    radius : float
        Initial radius, > 0.
    max_radius : float
        Upper bound of the radius, >= radius.
    accept_threshold : float
        ``eta`` in [0, shrink_threshold).
    shrink_threshold, grow_threshold : float
        ``0 < shrink_threshold < grow_threshold < 1``.
    shrink_factor : float
        In (0, 1).
    grow_factor : float
        > 1.

    Examples
    --------
    >>> tr = TrustRegion(radius=1.0)
    >>> tr.update(actual_reduction=1.0, predicted_reduction=1.0, step_norm=1.0)
    (True, 1.0)
    >>> tr.radius
    2.0
    """

    def __init__(self, radius=1.0, max_radius=1e3, accept_threshold=0.05, shrink_threshold=0.25,
                 grow_threshold=0.75, shrink_factor=0.25, grow_factor=2.0):
        self.radius = _check_real(radius, "radius", 0.0, np.inf)
        self.max_radius = _check_real(max_radius, "max_radius", 0.0, np.inf)
        if self.max_radius < self.radius:
            raise ValueError(f"max_radius ({max_radius}) must be >= radius ({radius}).")
        self.shrink_threshold = _check_real(shrink_threshold, "shrink_threshold", 0.0, 1.0)
        self.grow_threshold = _check_real(grow_threshold, "grow_threshold", self.shrink_threshold, 1.0)
        self.accept_threshold = _check_real(accept_threshold, "accept_threshold", 0.0,
                                            self.shrink_threshold, low_open=False)
        self.shrink_factor = _check_real(shrink_factor, "shrink_factor", 0.0, 1.0)
        self.grow_factor = _check_real(grow_factor, "grow_factor", 1.0, np.inf)

    def ratio(self, actual_reduction, predicted_reduction):
        """``rho``; ``-inf`` if the actual reduction is not finite, 1 if both are 0."""
        actual = float(actual_reduction)
        predicted = float(predicted_reduction)
        if not np.isfinite(actual):
            return -np.inf
        if predicted <= 0.0:
            # The model predicts no decrease (p = 0, or rounding): accept only no change.
            return 1.0 if actual >= 0.0 and predicted == 0.0 else -np.inf
        return actual / predicted

    def update(self, actual_reduction, predicted_reduction, step_norm):
        """Update ``radius`` from a trial step; return ``(accepted, rho)``.

        Parameters
        ----------
        actual_reduction : float
            ``f(w) - f(w + p)``.
        predicted_reduction : float
            ``-(g^T p + p^T H p / 2)``.
        step_norm : float
            ``||p||``.
        """
        rho = self.ratio(actual_reduction, predicted_reduction)
        if rho < self.shrink_threshold:
            self.radius = self.shrink_factor * self.radius
        elif rho > self.grow_threshold and float(step_norm) >= (1.0 - 1e-6) * self.radius:
            self.radius = min(self.grow_factor * self.radius, self.max_radius)
        return bool(rho > self.accept_threshold), float(rho)
