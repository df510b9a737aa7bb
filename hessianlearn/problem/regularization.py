"""Tikhonov (L2) regularization ``R(w) = gamma/2 ||w||^2`` as graph tensors."""
import numbers

from .._tf import tf
from ..utilities.parameter_list import ParameterList

__all__ = ["L2Regularization", "ParametersL2Regularization"]


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


class L2Regularization:
    """``R(w) = gamma/2 ||w||^2``, ``grad R = gamma w``, ``H_R dw = gamma dw``.

    Tensors ``cost``, ``gradient`` (``(dimension,)``), ``Hdw`` (fed by
    ``problem.dw``). ``gamma`` of 0 or None means no regularization (the tensors
    are then zeros and :attr:`is_active` is False).

    ``gamma`` is fixed at construction and read-only: the graph's tensors (and
    the fused steps built from them) hold it as a constant, while the numpy
    operators and LRSFN's damping read :attr:`gamma`, so a later change would
    make them disagree. Assigning ``gamma`` (or ``parameters['gamma']``) raises
    ``AttributeError``; build a new ``L2Regularization(problem, gamma)`` (and a
    new model) for another value.
    """

    def __init__(self, problem, gamma=0.0):
        if gamma is None:
            gamma = 0.0
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
        return self.gamma > 0.0

    def hessian_action(self, V):
        """``H_R V = gamma V`` for a numpy vector or matrix (the operator adds this)."""
        return self.gamma * V
