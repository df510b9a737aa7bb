"""Adam: bias-corrected first and second moment estimates of the gradient."""
from ..utilities.parameter_list import ParameterList
from .optimizer import Optimizer, _check_positive

__all__ = ["Adam", "ParametersAdam"]


def ParametersAdam():
    """A fresh ``ParameterList`` of :class:`Adam` settings."""
    return ParameterList({
        "alpha": [1e-3, "Learning rate"],
        "beta_1": [0.9, "Decay of the first moment estimate, in [0, 1)"],
        "beta_2": [0.999, "Decay of the second moment estimate, in [0, 1)"],
        "epsilon": [1e-7, "Denominator offset, > 0"],
        "hessian_type": ["hessian", "Curvature operator (unused by the direction; kept for H)"],
        "seed": [0, "Seed of the optimizer's random generator"],
    })


class Adam(Optimizer):
    """Adam (Kingma & Ba, arXiv:1412.6980) with a fixed learning rate.

    At iteration ``t = 1, 2, ...`` with gradient ``g_t``:

    .. math::

        m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g_t, \\quad
        v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g_t^2, \\\\
        \\hat m_t = m_t / (1 - \\beta_1^t), \\quad \\hat v_t = v_t / (1 - \\beta_2^t), \\\\
        w_t = w_{t-1} - \\alpha\\, \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon),

    elementwise, ``m_0 = v_0 = 0``. Costs ``[1, 0]`` sweeps per step. The moments
    are the attributes ``m`` and ``v`` (shape ``(dimension,)``).
    """

    @classmethod
    def default_parameters(cls):
        return ParametersAdam()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.m = None
        self.v = None

    def _check_parameters(self):
        super()._check_parameters()
        for key in ("beta_1", "beta_2"):
            value = _check_positive(self.parameters[key], key, allow_zero=True)
            if value >= 1.0:
                raise ValueError(f"Parameter {key!r} must be in [0, 1), got {value!r}.")
        _check_positive(self.parameters["epsilon"], "epsilon")

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        beta_1 = float(self.parameters["beta_1"])
        beta_2 = float(self.parameters["beta_2"])
        t = self.iter + 1
        m = (1.0 - beta_1) * g if self.m is None else beta_1 * self.m + (1.0 - beta_1) * g
        v = (1.0 - beta_2) * g * g if self.v is None else beta_2 * self.v + (1.0 - beta_2) * g * g
        m_hat = m / (1.0 - beta_1 ** t)
        v_hat = v / (1.0 - beta_2 ** t)
        p = -m_hat / (v_hat ** 0.5 + float(self.parameters["epsilon"]))
        info = self._globalize(feed_dict, loss, g, p)
        self.m, self.v = m, v
        return info
