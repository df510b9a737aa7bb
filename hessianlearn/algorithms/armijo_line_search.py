"""Armijo backtracking line search on a scalar function of the step length."""
import numbers

import numpy as np

__all__ = ["ArmijoLineSearch"]


def _check_unit_interval(value, argument):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value < 1.0:
        raise ValueError(f"{argument} must be a real number in (0, 1), got {value!r}.")
    return float(value)


class ArmijoLineSearch:
    """Backtracking until the Armijo sufficient-decrease condition holds.

    For ``phi(alpha) = f(w + alpha p)`` with ``phi(0) = f0`` and slope
    ``phi'(0) = g^T p <= 0``, a step ``alpha`` is accepted when

    .. math::  \\phi(\\alpha) \\le f_0 + c_1 \\alpha\\, g^T p .

    Trials are ``alpha_0, beta alpha_0, beta^2 alpha_0, ...`` with ``beta =
    backtracking_factor``; at most ``max_backtrack`` reductions are made.

    Parameters
    ----------
    c1 : float
        Sufficient-decrease constant in (0, 1); default 1e-4.
    backtracking_factor : float
        Reduction factor ``beta`` in (0, 1); default 0.5.
    max_backtrack : int
        Maximum number of reductions (>= 0); default 10.

    Examples
    --------
    >>> ls = ArmijoLineSearch(c1=1e-4, backtracking_factor=0.5, max_backtrack=10)
    >>> phi = lambda a: (1.0 - 4.0 * a) ** 2          # f(w - a g) for f = w^2, w = 1
    >>> ls.search(phi, 1.0, -4.0, 1.0)                # 1, 0.5 fail; 0.25 is exact
    (0.25, 2)
    """

    def __init__(self, c1=1e-4, backtracking_factor=0.5, max_backtrack=10):
        self.c1 = _check_unit_interval(c1, "c1 (c_armijo)")
        self.backtracking_factor = _check_unit_interval(backtracking_factor, "backtracking_factor")
        if isinstance(max_backtrack, bool) or not isinstance(max_backtrack, numbers.Integral) \
                or max_backtrack < 0:
            raise ValueError(f"max_backtrack must be an int >= 0, got {max_backtrack!r}.")
        self.max_backtrack = int(max_backtrack)

    def search(self, phi, f0, slope, alpha0=1.0):
        """Find an Armijo step length.

        Parameters
        ----------
        phi : callable
            ``phi(alpha) -> float``, the objective at ``w + alpha p``. Called once
            per trial: ``backtracks + 1`` times. NaN or inf values count as failures.
        f0 : float
            ``phi(0)``.
        slope : float
            Directional derivative ``g^T p``; must be <= 0 (a descent direction).
        alpha0 : float
            First trial step, > 0.

        Returns
        -------
        alpha : float
            The accepted step, or ``0.0`` if no trial satisfied the condition
            within ``max_backtrack`` reductions (the step is rejected).
        backtracks : int
            Number of reductions made (the number of ``phi`` calls is one more).

        Raises
        ------
        ValueError
            If ``slope > 0``, ``alpha0 <= 0`` or ``f0`` is not finite.
        """
        f0 = float(f0)
        slope = float(slope)
        if not np.isfinite(f0):
            raise ValueError(f"f0 must be finite, got {f0}.")
        if not np.isfinite(slope) or slope > 0.0:
            raise ValueError(
                f"slope g^T p = {slope} must be <= 0: p is not a descent direction; "
                "use -g (or a positive definite preconditioner) as the direction."
            )
        if isinstance(alpha0, bool) or not isinstance(alpha0, numbers.Real) or not alpha0 > 0:
            raise ValueError(f"alpha0 must be a real number > 0, got {alpha0!r}.")
        alpha = float(alpha0)
        for backtracks in range(self.max_backtrack + 1):
            value = float(phi(alpha))
            if np.isfinite(value) and value <= f0 + self.c1 * alpha * slope:
                return alpha, backtracks
            if backtracks < self.max_backtrack:
                alpha *= self.backtracking_factor
        return 0.0, self.max_backtrack
