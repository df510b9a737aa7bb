"""MINRES for symmetric (possibly indefinite) systems, on scipy's ``minres``.

Solves :math:`A x = b` for symmetric :math:`A` over any operator form
accepted by :func:`~hessianlearn.algorithms.operators.as_operator`, with the
same ``solve(A, b, x0=None) -> (x, info)`` interface as
:class:`~hessianlearn.algorithms.cg_solver.CGSolver`.  Unlike CG, MINRES does
not break down on indefinite Hessians.
"""
import numpy as np
from scipy.sparse.linalg import minres

from ..utilities.parameter_list import ParameterList
from ._scipy_krylov import _counted_solve, _scipy_solver_info, _ScipyKrylovSolver

__all__ = ["ParametersMINRESSolver", "MINRESSolver"]


def ParametersMINRESSolver():
    """Return a fresh :class:`ParameterList` of MINRES settings.

    Keys
    ----
    rel_tolerance : float
        Relative tolerance :math:`\\eta` passed to scipy as ``rtol``.
    abs_tolerance : float
        Absolute floor; scipy's ``minres`` has no ``atol``, so the relative
        tolerance used is :math:`\\max(\\eta, \\text{abs\\_tolerance}/\\|b\\|)`.
    max_iterations : int
        Maximum number of MINRES iterations.
    shift : float
        Solve :math:`(A - \\sigma I) x = b` instead.
    """
    return ParameterList({
        "rel_tolerance": [1e-6, "Relative residual tolerance"],
        "abs_tolerance": [1e-12, "Absolute residual tolerance floor"],
        "max_iterations": [1000, "Maximum number of MINRES iterations"],
        "shift": [0.0, "Shift sigma: solve (A - sigma I) x = b"],
    })


class MINRESSolver(_ScipyKrylovSolver):
    """MINRES, :math:`\\min_{x \\in x_0 + K_j} \\|b - A x\\|_2` for symmetric A.

    Parameters
    ----------
    parameters : ParameterList, optional
        Settings from :func:`ParametersMINRESSolver` (copied; defaults if
        ``None``).

    Notes
    -----
    Built on ``scipy.sparse.linalg.minres`` (``rtol`` keyword).  scipy's
    stopping test also involves an estimate of :math:`\\|A\\|`, so
    ``info.converged`` reports scipy's verdict; ``info.residual_norm`` is the
    true residual :math:`\\|b - A x\\|` (one extra operator product).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[2.0, 0.0], [0.0, -1.0]])
    >>> x, info = MINRESSolver().solve(A, np.array([2.0, 1.0]))
    >>> bool(np.allclose(x, [1.0, -1.0])), info.converged
    (True, True)
    """

    _default_parameters = staticmethod(ParametersMINRESSolver)

    def solve(self, A, b, x0=None):
        """Solve :math:`(A - \\sigma I) x = b` (:math:`\\sigma` = ``shift``, default 0).

        Parameters
        ----------
        A : ndarray, LinearOperator or operator
            Symmetric operator of shape ``(n, n)`` in any form accepted by
            :func:`~hessianlearn.algorithms.operators.as_operator`.
        b : ndarray, shape (n,)
            Right-hand side (never modified).
        x0 : ndarray, shape (n,), optional
            Initial guess (never modified); zero if ``None``.

        Returns
        -------
        x : ndarray, shape (n,)
        info : SolverInfo
            ``reason`` is ``'tolerance'``, ``'max_iterations'`` or
            ``'breakdown'``.
        """
        op, b, x0, rel_tolerance, abs_tolerance, max_iterations = (
            self._common_settings(A, b, x0))
        shift = float(self.parameters["shift"])
        b_norm = float(np.linalg.norm(b))
        rtol = rel_tolerance
        if b_norm > 0:
            rtol = max(rel_tolerance, abs_tolerance / b_norm)
        tolerance = max(rel_tolerance * b_norm, abs_tolerance)
        x, flag, iterations = _counted_solve(
            minres, op, b, x0=x0, rtol=rtol, shift=shift, maxiter=max_iterations)
        residual = b - op.matvec(x)
        if shift != 0.0:
            residual = residual + shift * x
        info = _scipy_solver_info(flag, iterations, residual, tolerance, rtol)
        return x, info
