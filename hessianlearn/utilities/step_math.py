"""The optimizers' step formulas, written once for both paths.

Each function takes arrays and only uses arithmetic operators and the functions
``abs``, ``minimum``, ``maximum``, ``where``, ``sqrt`` of the namespace ``xp``,
which both ``numpy`` and TensorFlow (``hessianlearn.tf``) provide: the numpy
reference optimizers (:mod:`hessianlearn.algorithms`) call them with ``numpy``
arrays, the fused graphs (:mod:`hessianlearn.problem.fused_steps`) with tensors.
A change to an algorithm's step is therefore made here, once.

Adam has two forms side by side, the one exception to one formula per step:
:func:`adam_update` (the textbook form, the reference path's) and
:func:`adam_kernel_update` (the fused step's: the arithmetic of TensorFlow's ``ApplyAdam``
kernel, which the fused step also runs as that kernel itself, given
:func:`adam_kernel_epsilon`); their parity is tested in float64, and the second against
the kernel bit for bit.
"""
import numpy as np

__all__ = ["adam_update", "adam_kernel_update", "adam_kernel_epsilon", "cg_advance",
           "cg_next_direction", "forcing_term", "spectral_step_length",
           "saddle_free_woodbury_direction"]

#: The spectral step's constant: ``alpha = min(alpha_max, SPECTRAL_FRACTION / |lambda_1|)``.
SPECTRAL_FRACTION = 0.1


def adam_update(m, v, g, t, beta_1, beta_2, epsilon, xp=np):
    """One Adam update of the moments and its direction, elementwise.

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2, \\quad
        p = -\\frac{m / (1-\\beta_1^t)}{\\sqrt{v / (1-\\beta_2^t)} + \\epsilon}

    ``m``, ``v`` (``None`` before the first step: zeros) and ``g`` of one shape;
    ``t`` the iteration from 1. Returns ``(m, v, p)``; the step is ``w + alpha p``.
    """
    m = (1.0 - beta_1) * g if m is None else beta_1 * m + (1.0 - beta_1) * g
    v = (1.0 - beta_2) * g * g if v is None else beta_2 * v + (1.0 - beta_2) * g * g
    m_hat = m / (1.0 - beta_1 ** t)
    v_hat = v / (1.0 - beta_2 ** t)
    return m, v, -m_hat / (xp.sqrt(v_hat) + epsilon)


def adam_kernel_epsilon(epsilon, beta_2_power, xp=np):
    """``epsilon sqrt(1 - beta_2^t)``: with it, the kernel's
    ``lr sqrt(1-beta_2^t)/(1-beta_1^t) m / (sqrt(v) + epsilon')`` is
    :func:`adam_update`'s ``alpha p`` exactly."""
    return epsilon * xp.sqrt(1.0 - beta_2_power)


def adam_kernel_update(m, v, g, t, alpha, beta_1, beta_2, epsilon, xp=np):
    """:func:`adam_update` in the kernel's form: the new moments and the step to subtract.

    .. math::

        m \\leftarrow m + (1-\\beta_1)(g - m), \\quad
        v \\leftarrow v + (1-\\beta_2)(g^2 - v), \\quad
        \\delta = \\frac{\\alpha_t m}{\\sqrt{v} + \\epsilon'}, \\quad
        \\alpha_t = \\frac{\\alpha \\sqrt{1-\\beta_2^t}}{1-\\beta_1^t},

    ``epsilon'`` from :func:`adam_kernel_epsilon`; ``w - delta`` is
    :func:`adam_update`'s ``w + alpha p`` up to round-off. Each operation is the one
    TensorFlow's ``ApplyAdam`` CPU kernel makes, in its order and dtype, so on the CPU
    the result is that kernel's to the bit. ``m``, ``v`` and ``g`` of one shape (zeros
    before the first step); ``t`` the iteration from 1. Returns ``(m, v, delta)``.
    """
    beta_1_power, beta_2_power = beta_1 ** t, beta_2 ** t
    alpha_t = alpha * xp.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    return m, v, (m * alpha_t) / (xp.sqrt(v) + adam_kernel_epsilon(epsilon, beta_2_power, xp))


def cg_advance(x, r, p, Ap, step):
    """One conjugate-gradient update of the iterate and residual of ``A x = b``:
    ``x + step p`` and ``r - step A p``, with ``step = r^T r / p^T A p`` (the caller
    checks ``p^T A p > 0`` and the trust region first)."""
    return x + step * p, r - step * Ap


def cg_next_direction(r, rr_next, rr, p):
    """The next CG search direction ``r + (r_new^T r_new / r^T r) p`` (Fletcher-Reeves)."""
    return r + (rr_next / rr) * p


def forcing_term(grad_norm, previous_grad_norm, previous_residual, choice_1, floor, gamma, alpha,
                 eta_max, xp=np):
    """The Eisenstat-Walker forcing term from ``||g_k||`` (``grad_norm``), clipped:

    .. math::

        \\eta_k = \\min\\big(\\max(e_k, f_k), \\eta_{\\max}\\big), \\quad
        e_k = \\frac{\\big|\\|g_k\\| - \\|r_{k-1}\\|\\big|}{\\|g_{k-1}\\|} \\text{ (choice 1) or }
        \\gamma \\Big(\\frac{\\|g_k\\|}{\\|g_{k-1}\\|}\\Big)^{\\alpha} \\text{ (choice 2)},

    ``choice_1`` a bool, ``previous_residual`` ``||r_{k-1}||`` (any number for choice 2),
    ``floor`` ``f_k`` the safeguard from ``eta_{k-1}`` (0 when it does not apply; see
    :func:`~hessianlearn.algorithms.cg_solver.eisenstat_walker_forcing_term`)."""
    eta = xp.where(choice_1, abs(grad_norm - previous_residual) / previous_grad_norm,
                   gamma * (grad_norm / previous_grad_norm) ** alpha)
    return xp.minimum(xp.maximum(eta, floor), eta_max)


def spectral_step_length(alpha_max, lambda_1, xp=np):
    """``min(alpha_max, 0.1 / |lambda_1|)``, or ``alpha_max`` when ``lambda_1 = 0``
    (``lambda_1`` the largest-magnitude eigenvalue of the curvature)."""
    magnitude = xp.abs(lambda_1)
    bounded = xp.minimum(alpha_max, SPECTRAL_FRACTION / xp.maximum(magnitude, 1e-300))
    return xp.where(magnitude > 0.0, bounded, alpha_max + 0.0 * magnitude)


def saddle_free_woodbury_direction(g, Utg, apply_U, mu, gamma):
    """``p = -(U |M| U^T + gamma I)^{-1} g`` for orthonormal ``U`` and ``mu = |M|``, by Woodbury:

    .. math::

        p = -\\Big(U \\operatorname{diag}\\big(\\tfrac{1}{\\mu_i + \\gamma}\\big) U^T g
              + \\frac{(I - U U^T) g}{\\gamma}\\Big)

    (the range of ``U`` and its complement apart: no cancellation in
    ``1 - mu/(mu + gamma)``). ``Utg = U^T g`` (``(k,)``), ``apply_U(a) = U a``
    (``(n,)`` from ``(k,)``), ``mu`` ``(k,)`` nonnegative, ``gamma > 0``.
    """
    return -(apply_U(Utg / (mu + gamma)) + (g - apply_U(Utg)) / gamma)
