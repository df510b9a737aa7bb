"""Lab: benchmark workloads and the optimizer-comparison harness (the top layer; imports point down)."""
from .._exports import export_modules

_MODULES = ("workloads", "comparison_report", "comparison")

__all__ = export_modules(__name__, _MODULES, globals())
