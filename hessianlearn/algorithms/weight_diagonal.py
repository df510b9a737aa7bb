"""Hutchinson estimate of a curvature operator's diagonal, shaped by the network's weights.

For Rademacher probes :math:`z_1, \\dots, z_m \\in \\{-1, +1\\}^n` (so
:math:`E[z z^T] = I`) the per-probe terms :math:`z_i \\odot A z_i` have mean
:math:`\\operatorname{diag} A`. Diagonal preconditioners (AdaHessian, Sophia)
use this estimate; AdaHessian additionally averages it over the spatial block
of each convolution kernel: for a Keras ``Conv2D`` kernel of shape
``(kh, kw, c_in, c_out)`` every entry is replaced by the mean over its
``kh x kw`` spatial positions (same input and output channel).
"""
import numpy as np

from .operators import _check_int, _operator_and_dimension, as_generator
from .trace_estimators import _mean_and_error, _rademacher

__all__ = ["hutchinson_weight_diagonal"]


def _spatial_mean(samples, layer_descriptors):
    """Average the rows of ``samples`` (n, m) over each 4-D kernel's first two axes."""
    out = samples.copy()
    for descriptor in layer_descriptors.values():
        shape = tuple(descriptor["shape"])
        if len(shape) != 4:
            continue
        part = samples[descriptor["slice"]].reshape(shape + (samples.shape[1],))
        mean = np.broadcast_to(part.mean(axis=(0, 1), keepdims=True), part.shape)
        out[descriptor["slice"]] = mean.reshape(-1, samples.shape[1])
    return out


def hutchinson_weight_diagonal(Aop, n, probes=1, seed=0, layer_descriptors=None,
                               spatial_average=False, absolute=False):
    """Hutchinson estimate of :math:`\\operatorname{diag} A` with its standard error.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Square ``(n, n)`` operator (any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`); applied once, to
        the ``(n, probes)`` probe matrix (``probes`` columns).
    n : int
        Dimension.
    probes : int, optional
        Number ``m >= 1`` of Rademacher probes.
    seed : int, numpy.random.Generator or None, optional
        Seed of the probes; a ``Generator`` is used and advanced.
    layer_descriptors : dict, optional
        ``problem.layer_descriptors`` (weight name -> ``{'shape', 'slice'}``);
        required with ``spatial_average``.
    spatial_average : bool, optional
        Replace each term by its mean over the ``kh x kw`` spatial block of every
        4-D (``Conv2D``) kernel, per probe.
    absolute : bool, optional
        Use :math:`|z_i \\odot A z_i|` per probe (AdaHessian's magnitude), before
        any spatial averaging.

    Returns
    -------
    estimate : ndarray, shape (n,)
        Mean over probes of the (absolute, spatially averaged) terms.
    standard_error : ndarray, shape (n,)
        Sample standard deviation of the terms (``ddof=1``) over :math:`\\sqrt m`;
        ``nan`` when ``m = 1``.

    Raises
    ------
    TypeError
        If ``probes`` is not an int.
    ValueError
        If ``probes < 1``, the shapes do not match, or ``spatial_average`` is
        requested without ``layer_descriptors``.
    """
    op, n = _operator_and_dimension(Aop, n, "Aop")
    probes = _check_int(probes, "probes")
    if spatial_average and layer_descriptors is None:
        raise ValueError("spatial_average=True needs layer_descriptors (problem.layer_descriptors) "
                         "to know which weights are convolution kernels.")
    rng = as_generator(seed)
    Z = _rademacher(rng, n, probes)
    samples = Z * np.asarray(op.matmat(Z)).reshape(n, probes)
    if absolute:
        samples = np.abs(samples)
    if spatial_average:
        samples = _spatial_mean(samples, layer_descriptors)
    estimate, error = _mean_and_error(samples, axis=1)
    return estimate, np.broadcast_to(error, estimate.shape).copy()
