"""Utilities: parameter lists, finite-difference checks, plotting (matplotlib imported lazily),
and the MPI helpers."""
from .._exports import export_modules

_MODULES = ("parameter_list", "finite_difference_check", "plotting", "curvature_plots", "mpi", "session_callables",
            "test_matrices")

__all__ = export_modules(__name__, _MODULES, globals())
