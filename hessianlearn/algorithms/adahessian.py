"""AdaHessian (Yao, Gholami, Shen, Mustafa, Keutzer, Mahoney, arXiv:2006.00719)."""
import numpy as np

from ..utilities.parameter_list import ParameterList
from .optimizer import Optimizer, _check_count, _check_decay, _check_positive
from .weight_diagonal import hutchinson_weight_diagonal

__all__ = ["AdaHessian", "ParametersAdaHessian"]


def ParametersAdaHessian():
    """A fresh ``ParameterList`` of :class:`AdaHessian` settings (the paper's defaults)."""
    return ParameterList({
        "alpha": [0.15, "Learning rate"],
        "beta_1": [0.9, "Decay of the gradient's moving average, in [0, 1)"],
        "beta_2": [0.999, "Decay of the squared Hessian diagonal's moving average, in [0, 1)"],
        "epsilon": [1e-4, "Added to the denominator"],
        "hessian_power": [1.0, "Power k of the diagonal in the denominator, in (0, 1]"],
        "hessian_probes": [1, "Rademacher probes (Hessian-vector products) per step"],
        "spatial_average": [True, "Average the diagonal over each Conv2D kernel's spatial block"],
        "hessian_type": ["hessian", "Curvature operator: 'hessian' or 'gauss_newton'"],
        "seed": [0, "Seed of the Rademacher probes (the generator advances every step)"],
    })


class AdaHessian(Optimizer):
    """Adam with the gradient's second moment replaced by a Hutchinson Hessian diagonal.

    At iteration ``t = 1, 2, ...`` with gradient ``g_t`` (gradient batch) and the
    Hutchinson estimate ``D_t`` of :math:`|\\operatorname{diag} H|` on the Hessian
    batch (:func:`~hessianlearn.algorithms.weight_diagonal.hutchinson_weight_diagonal`
    with ``absolute=True``, averaged over each ``Conv2D`` kernel's spatial block
    when ``spatial_average``):

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\quad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) D_t^2, \\\\
        w_t = w_{t-1} - \\alpha \\frac{m_t / (1-\\beta_1^t)}
              {(\\sqrt{v_t / (1-\\beta_2^t)})^{k} + \\epsilon},

    elementwise, ``m_0 = v_0 = 0``, ``k = hessian_power``. The curvature operator
    includes the regularization's ``gamma I``.

    Sweeps per step: ``[1, hessian_probes]`` -- one gradient evaluation and one
    Hessian-vector product per probe on the Hessian batch (``[1, 1]`` by default).

    Attributes
    ----------
    m, v : ndarray, shape (dimension,) or None
        The moving averages (``None`` before the first step).
    diagonal : ndarray or None
        The last diagonal estimate ``D_t``.
    """

    state_attributes = Optimizer.state_attributes + ("m", "v", "diagonal")

    @classmethod
    def default_parameters(cls):
        return ParametersAdaHessian()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.m = self.v = self.diagonal = None

    def _check_parameters(self):
        super()._check_parameters()
        p = self.parameters
        _check_decay(p)
        _check_positive(p["epsilon"], "epsilon")
        if _check_positive(p["hessian_power"], "hessian_power") > 1.0:
            raise ValueError(f"Parameter 'hessian_power' must be in (0, 1], got {p['hessian_power']!r}.")
        _check_count(p["hessian_probes"], "hessian_probes")
        if not isinstance(p["spatial_average"], (bool, np.bool_)):
            raise ValueError(f"Parameter 'spatial_average' must be True or False, "
                             f"got {p['spatial_average']!r}.")

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        p = self.parameters
        beta_1, beta_2 = float(p["beta_1"]), float(p["beta_2"])
        t = self.iter + 1
        D, _ = hutchinson_weight_diagonal(
            self.hessian_operator(hessian_feed_dict), self.problem.dimension,
            probes=int(p["hessian_probes"]), seed=self.rng,
            layer_descriptors=self.problem.layer_descriptors,
            spatial_average=bool(p["spatial_average"]), absolute=True)
        m = (1.0 - beta_1) * g if self.m is None else beta_1 * self.m + (1.0 - beta_1) * g
        v = (1.0 - beta_2) * D * D if self.v is None else beta_2 * self.v + (1.0 - beta_2) * D * D
        denominator = np.sqrt(v / (1.0 - beta_2 ** t)) ** float(p["hessian_power"]) + float(p["epsilon"])
        step = -(m / (1.0 - beta_1 ** t)) / denominator
        info = self._globalize(feed_dict, loss, g, step)
        self.m, self.v, self.diagonal = m, v, D
        return info
