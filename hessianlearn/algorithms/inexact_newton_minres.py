"""Inexact Newton with MINRES on the (symmetric) curvature operator."""
from ._inexact_newton_krylov import _InexactNewtonKrylov, _krylov_newton_parameters
from .minres_solver import MINRESSolver, ParametersMINRESSolver

__all__ = ["InexactNewtonMINRES", "ParametersInexactNewtonMINRES"]


def ParametersInexactNewtonMINRES():
    """A fresh ``ParameterList`` of :class:`InexactNewtonMINRES` settings."""
    return _krylov_newton_parameters("MINRES")


class InexactNewtonMINRES(_InexactNewtonKrylov):
    """Newton step ``H p = -g`` solved inexactly by MINRES (scipy), with a globalization.

    MINRES uses the symmetry of ``H`` (short recurrences) and, like GMRES, does
    not break down on indefinite Hessians; an ascent direction makes the Armijo
    line search fall back to ``-g``. Same interface and sweeps accounting as
    :class:`~hessianlearn.algorithms.inexact_newton_gmres.InexactNewtonGMRES`.
    """

    _solver_class = MINRESSolver
    _solver_parameters = staticmethod(ParametersMINRESSolver)

    @classmethod
    def default_parameters(cls):
        return ParametersInexactNewtonMINRES()
