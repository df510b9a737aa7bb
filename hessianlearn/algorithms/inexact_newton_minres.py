"""Inexact Newton with MINRES on the (symmetric) curvature operator."""
from ..utilities.parameter_list import ParameterList
from .inexact_newton_gmres import InexactNewtonGMRES
from .minres_solver import MINRESSolver, ParametersMINRESSolver
from .optimizer import line_search_parameters

__all__ = ["InexactNewtonMINRES", "ParametersInexactNewtonMINRES"]


def ParametersInexactNewtonMINRES():
    """A fresh ``ParameterList`` of :class:`InexactNewtonMINRES` settings."""
    entries = {
        "alpha": [1.0, "Step length (fixed, or the first line-search trial)"],
        "globalization": [None, "None (fixed step alpha) or 'line_search' (Armijo)"],
        "krylov_rel_tolerance": [0.5, "MINRES relative residual tolerance"],
        "krylov_abs_tolerance": [1e-12, "MINRES absolute residual floor"],
        "krylov_max_iter": [10, "Maximum MINRES iterations per step"],
        "hessian_type": ["hessian", "Curvature operator: 'hessian'"],
        "seed": [0, "Seed of the optimizer's random generator"],
    }
    entries.update(line_search_parameters())
    return ParameterList(entries)


class InexactNewtonMINRES(InexactNewtonGMRES):
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
