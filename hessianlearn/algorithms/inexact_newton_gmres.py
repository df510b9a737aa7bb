"""Inexact Newton with GMRES on the curvature operator."""
from ._inexact_newton_krylov import _InexactNewtonKrylov, _krylov_newton_parameters
from .gmres_solver import GMRESSolver, ParametersGMRESSolver

__all__ = ["InexactNewtonGMRES", "ParametersInexactNewtonGMRES"]


def ParametersInexactNewtonGMRES():
    """A fresh ``ParameterList`` of :class:`InexactNewtonGMRES` settings."""
    return _krylov_newton_parameters("GMRES")


class InexactNewtonGMRES(_InexactNewtonKrylov):
    """Newton step ``H p = -g`` solved inexactly by GMRES (scipy), with a globalization.

    GMRES minimizes ``||H p + g||`` over the Krylov space and does not stop at
    negative curvature, so on indefinite Hessians ``p`` may be an ascent
    direction; the Armijo line search then falls back to ``-g``. Sweeps count
    every operator column GMRES applied, including the one for the true
    residual. See :class:`~hessianlearn.algorithms.optimizer.Optimizer`.
    """

    _solver_class = GMRESSolver
    _solver_parameters = staticmethod(ParametersGMRESSolver)

    @classmethod
    def default_parameters(cls):
        return ParametersInexactNewtonGMRES()
