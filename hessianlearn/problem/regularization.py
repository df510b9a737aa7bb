"""Regularization terms ``R(w)`` as graph tensors: the :class:`Regularization` interface
and Tikhonov (L2) regularization ``R(w) = gamma/2 ||w||^2``."""
import numbers
from abc import ABC, abstractmethod

from .._tf import tf
from ..utilities.parameter_list import ParameterList

__all__ = ["Regularization", "L2Regularization", "ParametersL2Regularization",
           "ParametersRegularization"]


def ParametersL2Regularization(gamma=0.0):
    """Parameters of :class:`L2Regularization`."""
    return ParameterList({"gamma": [gamma, "Tikhonov weight gamma in gamma/2 ||w||^2"]})


class _FixedGammaParameters(ParameterList):
    """The regularization's parameters, ``gamma`` read-only (see :class:`L2Regularization`)."""

    def __setitem__(self, key, value):
        if key == "gamma":
            raise AttributeError(_read_only_message(self["gamma"], value))
        super().__setitem__(key, value)

    def update(self, mapping):
        items = mapping.items() if hasattr(mapping, "items") else ()
        for key, value in items:
            if key == "gamma":
                raise AttributeError(_read_only_message(self["gamma"], value))
        super().update(mapping)


def _read_only_message(gamma, value):
    return (f"L2Regularization.gamma is read-only (it is {gamma!r}, baked into the graph's cost, "
            f"gradient and Hdw); build L2Regularization(problem, {value!r}) instead.")


def ParametersRegularization(dictionary=None):
    """The original hessianlearn's regularization parameters: ``gamma`` = 0.1.

    Parameters
    ----------
    dictionary : dict or ParameterList, optional
        Further ``key -> [value, description]`` entries; a ``'gamma'`` entry
        in it replaces the default. Not modified.

    Returns
    -------
    ParameterList
        For ``L2Regularization(problem, parameters=...)``.
    """
    entries = {"gamma": [1e-1, "Tikhonov weight gamma in gamma/2 ||w||^2"]}
    if dictionary is not None:
        extra = ParameterList(dictionary)
        entries.update({key: [value, extra.description(key)] for key, value in extra.items()})
    return ParameterList(entries)


class Regularization(ABC):
    r"""Interface of a regularization term :math:`R(w)` added to a problem's loss.

    A subclass builds, in the problem's graph, the tensors ``cost`` (scalar
    :math:`R(w)`), ``gradient`` (``(dimension,)``, :math:`\nabla R`) and ``Hdw``
    (:math:`\nabla^2 R\, dw`, fed by ``problem.dw``), and implements
    :attr:`is_active` and :meth:`hessian_action`. ``H_w_hat`` is the original
    hessianlearn's name of ``Hdw``.
    """

    @property
    @abstractmethod
    def is_active(self):
        """False when the term is identically zero (optimizers then skip it)."""

    @abstractmethod
    def hessian_action(self, V):
        r""":math:`\nabla^2 R\, V` for a numpy vector ``(dimension,)`` or matrix ``(dimension, k)``."""

    @property
    def H_w_hat(self):
        return self.Hdw


class L2Regularization(Regularization):
    """``R(w) = gamma/2 ||w||^2``, ``grad R = gamma w``, ``H_R dw = gamma dw``.

    Tensors ``cost``, ``gradient`` (``(dimension,)``), ``Hdw`` (fed by
    ``problem.dw``). ``gamma`` of 0 means no regularization (the tensors are then
    zeros and :attr:`is_active` is False).

    ``gamma`` is fixed at construction and read-only: the graph's tensors (and
    the fused steps built from them) hold it as a constant, while the numpy
    operators and LRSFN's damping read :attr:`gamma`, so a later change would
    make them disagree. Assigning ``gamma`` (or ``parameters['gamma']``) raises
    ``AttributeError``; build a new ``L2Regularization(problem, gamma)`` (and a
    new model) for another value.

    Parameters
    ----------
    problem : Problem
    gamma : float, optional
        Tikhonov weight, ``>= 0``. ``None`` (default) takes ``parameters['gamma']``,
        and without ``parameters`` the original hessianlearn's default 0.1
        (:func:`ParametersRegularization`); pass ``gamma=0`` for none.
    parameters : ParameterList or dict, optional
        The original hessianlearn's form (:func:`ParametersRegularization`):
        supplies ``gamma`` when ``gamma`` is None.
    dtype : tf.DType, optional
        Accepted for the original's call form; must be the problem's dtype.
    """

    def __init__(self, problem, gamma=None, parameters=None, dtype=None):
        if dtype is not None and tf.as_dtype(dtype) != problem.dtype:
            raise ValueError(f"dtype {tf.as_dtype(dtype).name} differs from the problem's dtype "
                             f"{problem.dtype.name}; leave dtype out (the problem's is used).")
        if gamma is None and parameters is not None:
            if not hasattr(parameters, "__getitem__") or "gamma" not in parameters:
                raise TypeError("parameters must be a ParameterList or dict with a 'gamma' entry "
                                "(see ParametersRegularization).")
            gamma = parameters["gamma"]
            if isinstance(gamma, (list, tuple)):  # a raw {'gamma': [value, description]} dict
                gamma = gamma[0]
        if gamma is None:
            gamma = ParametersRegularization()["gamma"]
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or gamma < 0:
            raise ValueError(f"gamma must be a real number >= 0 (or None), got {gamma!r}.")
        self.problem = problem
        self.parameters = _FixedGammaParameters(ParametersL2Regularization(float(gamma)))
        self._gamma = float(gamma)
        with problem._graph.as_default():
            g = tf.constant(self.gamma, dtype=problem.dtype)
            self.cost = 0.5 * g * tf.reduce_sum(tf.square(problem.w))
            self.gradient = g * problem.w
            self.Hdw = g * problem.dw

    @property
    def gamma(self):
        """The Tikhonov weight (read-only: the graph holds it as a constant)."""
        return self._gamma

    @gamma.setter
    def gamma(self, value):
        raise AttributeError(_read_only_message(self._gamma, value))

    @property
    def is_active(self):
        """True when ``gamma > 0`` (the regularization adds to the loss)."""
        return self.gamma > 0.0

    def hessian_action(self, V):
        """``H_R V = gamma V`` for a numpy vector or matrix (the operator adds this)."""
        return self.gamma * V
