"""The one table from optimizer names to optimizer classes and their parameters.

Each row of :data:`OPTIMIZERS` says which class implements a name, which
``Parameters<Name>()`` function gives its parameter list, which parameters are
fixed for that name (``'sgd'`` is gradient descent with globalization None)
and which globalizations it accepts. :func:`make_optimizer` builds an
optimizer from a settings list: it starts from the class's parameters, copies
every key the settings share with them (``alpha``, ``globalization``,
``hessian_low_rank``, ``seed``, ...), applies the fixed overrides and then any
explicit parameter overrides. Classes are looked up when first used, so this
module imports nothing from ``hessianlearn.algorithms`` at import time.
"""
import importlib
from dataclasses import dataclass, field
from types import MappingProxyType

from ..utilities.parameter_list import ParameterList

__all__ = ["OPTIMIZERS", "GLOBALIZATIONS", "OptimizerEntry", "optimizer_names", "make_optimizer",
           "build_optimizer", "resolve_optimizer"]

#: Every globalization name any optimizer accepts (None: fixed step ``alpha``).
GLOBALIZATIONS = (None, "line_search", "spectral_step", "trust_region")


@dataclass(frozen=True)
class OptimizerEntry:
    """One row of the optimizer table.

    Attributes
    ----------
    module : str
        Module (under ``hessianlearn.algorithms``) defining the class.
    class_name, parameters_name : str
        The optimizer class and its ``Parameters<Name>`` function.
    overrides : mapping
        Parameters fixed for this name, applied after the settings.
    globalizations : tuple or None
        Accepted values of ``settings['globalization']``; ``None`` when the
        name ignores it (fixed by ``overrides`` or not used, e.g. Adam).
    """

    module: str
    class_name: str
    parameters_name: str
    overrides: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    globalizations: tuple = None

    def resolve(self):
        """Return ``(optimizer_class, parameters_function)``."""
        package = importlib.import_module("hessianlearn.algorithms")
        cls = getattr(package, self.class_name, None)
        parameters = getattr(package, self.parameters_name, None)
        if cls is None or parameters is None:
            module = importlib.import_module(f"hessianlearn.algorithms.{self.module}")
            cls = getattr(module, self.class_name)
            parameters = getattr(module, self.parameters_name)
        return cls, parameters


def _row(module, class_name, overrides=None, globalizations=None):
    return OptimizerEntry(module, class_name, "Parameters" + class_name,
                          MappingProxyType(dict(overrides or {})), globalizations)


#: name -> :class:`OptimizerEntry`; the only place optimizer names are interpreted.
OPTIMIZERS = MappingProxyType({
    "lrsfn": _row("low_rank_saddle_free_newton", "LowRankSaddleFreeNewton",
                  globalizations=(None, "line_search", "spectral_step")),
    "incg": _row("inexact_newton_cg", "InexactNewtonCG",
                 globalizations=(None, "line_search", "trust_region")),
    "ingmres": _row("inexact_newton_gmres", "InexactNewtonGMRES", globalizations=(None, "line_search")),
    "inminres": _row("inexact_newton_minres", "InexactNewtonMINRES", globalizations=(None, "line_search")),
    "adam": _row("adam", "Adam"),
    "gd": _row("gradient_descent", "GradientDescent", {"globalization": "line_search"}),
    "sgd": _row("gradient_descent", "GradientDescent", {"globalization": None}),
    # second-order optimizer lab (issue 16)
    "adahessian": _row("adahessian", "AdaHessian"),
    "sophia": _row("sophia", "Sophia"),
    "lbfgs": _row("lbfgs", "LBFGS"),
    "hessian_free": _row("hessian_free", "HessianFree", {"hessian_type": "gauss_newton"}),
    "kfac": _row("kfac", "KFAC", {"hessian_type": "gauss_newton"}),
})


def optimizer_names():
    """The registered optimizer names, in table order."""
    return tuple(OPTIMIZERS)


def _entry(name):
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {name!r}; choose one of {', '.join(repr(n) for n in OPTIMIZERS)} "
            "or pass an optimizer class."
        )
    return OPTIMIZERS[name]


def resolve_optimizer(name):
    """``(class, parameters_function)`` registered under ``name`` (``ValueError`` if unknown)."""
    return _entry(name).resolve()


def _as_parameters(parameters, argument="parameters"):
    if parameters is None or isinstance(parameters, ParameterList):
        return parameters.copy() if parameters is not None else None
    if hasattr(parameters, "items"):
        return dict(parameters)
    raise TypeError(f"{argument} must be a ParameterList or a dict, got {type(parameters).__name__}.")


def _apply(parameters, values, source):
    """Write ``values`` into ``parameters``; unknown keys raise with the source named."""
    for key, value in values.items():
        if key not in parameters:
            try:
                parameters[key]  # the ParameterList's KeyError carries a close-match hint
            except KeyError as error:
                raise KeyError(f"{source}: {error.args[0]}") from None
        parameters[key] = value


def build_optimizer(optimizer_class, parameters, problem, regularization, sess, comm=None):
    """Instantiate ``optimizer_class(problem, regularization, sess, parameters=..., comm=...)``.

    ``parameters`` (a ParameterList or None) is passed as is; the keyword
    ``comm`` is passed only when not None, so classes without it still work.
    """
    if not isinstance(optimizer_class, type):
        raise TypeError(f"optimizer must be a class or a registered name, got {optimizer_class!r}.")
    kwargs = {"parameters": parameters}
    if comm is not None:
        kwargs["comm"] = comm
    return optimizer_class(problem, regularization, sess, **kwargs)


def make_optimizer(settings, problem, regularization, sess, comm=None, optimizer=None,
                   parameters=None):
    """Build the optimizer a settings list asks for.

    Parameters
    ----------
    settings : ParameterList
        Model settings (:func:`~hessianlearn.model.settings.HessianlearnModelSettings`).
    problem, regularization, sess, comm
        Passed to the optimizer's constructor.
    optimizer : str or class, optional
        Overrides ``settings['optimizer']``: a registered name, or an optimizer
        class with the ``Optimizer`` constructor signature.
    parameters : dict or ParameterList, optional
        For a name: overrides applied last, on top of the settings. For a
        class: its complete parameter list (``None`` uses the registered
        ``Parameters<Name>()`` of that class filled from the settings, or the
        class's own default when it is not registered).

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        Unknown name, or a globalization the optimizer does not accept.
    KeyError
        A parameter override names a key the optimizer does not have.
    """
    choice = settings["optimizer"] if optimizer is None else optimizer
    parameters = _as_parameters(parameters)
    if isinstance(choice, str):
        entry = _entry(choice)
        cls, parameters_function = entry.resolve()
    else:
        cls = choice
        entry = next((e for e in OPTIMIZERS.values() if e.class_name == getattr(cls, "__name__", None)
                      and e.resolve()[0] is cls), None)
        if isinstance(parameters, ParameterList):
            return build_optimizer(cls, parameters, problem, regularization, sess, comm)
        if entry is None:
            if parameters:
                raise TypeError(
                    f"{cls.__name__} is not a registered optimizer; pass its complete "
                    "parameters as a ParameterList (or None for its defaults)."
                )
            return build_optimizer(cls, None, problem, regularization, sess, comm)
        parameters_function = entry.resolve()[1]
    if entry.globalizations is not None and settings["globalization"] not in entry.globalizations:
        raise ValueError(
            f"settings['globalization'] = {settings['globalization']!r} is not available for "
            f"optimizer {choice if isinstance(choice, str) else cls.__name__!r}; choose one of "
            f"{', '.join(repr(g) for g in entry.globalizations)}."
        )
    full = parameters_function()
    _apply(full, {key: value for key, value in settings.items() if key in full}, "settings")
    _apply(full, dict(entry.overrides), "registry overrides")
    if parameters:
        _apply(full, dict(parameters), "optimizer parameters")
    return build_optimizer(cls, full, problem, regularization, sess, comm)
