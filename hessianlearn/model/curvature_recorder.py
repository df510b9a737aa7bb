"""Curvature diagnostics recorded during training (trace, top eigenvalues, density, layer traces).

With ``settings['record_spectrum']`` the fit loop of
:class:`~hessianlearn.model.model.HessianlearnModel` calls
:meth:`CurvatureRecorder.record` every ``spec_frequency`` sweeps (and after the
first step) on the spectrum data, the first ``rq_data_size`` training samples
(all when None). The curvature operator :math:`A` is the one the optimizer
uses, chosen by ``settings['hessian_type']``: the Hessian
:math:`\\nabla^2_w F` or the generalized Gauss-Newton matrix
:math:`J^T H_L J`, plus the regularization's :math:`\\gamma I` when a
regularization is active. With ``n`` trainable weights it records

``full_train_trace``, ``full_train_trace_std_error``
    Hutchinson estimate :math:`\\frac1m\\sum_{j=1}^m z_j^T A z_j` of
    :math:`\\operatorname{tr} A` (Rademacher :math:`z_j`, :math:`m` =
    ``trace_probes``) and its standard error (sample std over :math:`\\sqrt m`).
``full_train_top_eigenvalues``
    Array ``(k,)``, the ``k = top_eigenvalues`` largest eigenvalues of
    :math:`A` by Lanczos with full reorthogonalization (at most
    ``lanczos_max_iterations`` products), largest first.
``full_train_spectral_density`` (with ``record_density``)
    ``(grid (g,), density (g,))``: the Gaussian-broadened spectral density by
    stochastic Lanczos quadrature (``density_probes`` probes of
    ``density_lanczos_steps`` steps), integrating to 1 over ``grid``.
``full_train_layer_traces`` (with ``record_layer_traces``)
    ``{layer name: (trace, standard error)}``: Hutchinson on each layer's
    diagonal block of :math:`A` (``layer_name=`` on the operator,
    ``trace_probes`` probes each, drawn in network order from one stream).

Each is a dict ``{iteration: value}`` like the other logger series.

Recording never changes the optimization: it uses its own operator instance
(not the optimizer's, so the optimizer's sweep counts are untouched) and its
own random numbers, drawn from generators that depend only on
``settings['seed']`` (0 when None) and the iteration (:func:`probe_generators`),
never on the optimizer's generator. The probes are therefore the same on every
MPI rank, and the operator's products are reduced over the ranks by
:func:`~hessianlearn.utilities.reduction.evaluate`.

Cost per recording, in operator columns on the spectrum data: ``trace_probes``
(plus ``trace_probes`` per layer), at most ``lanczos_max_iterations + 2`` for
Lanczos and ``density_probes * density_lanczos_steps + 2`` for the density.
"""
import numpy as np

__all__ = ["CurvatureRecorder", "CURVATURE_LOGGER_KEYS", "probe_generators", "network_layer_names"]

#: Logger keys filled by :class:`CurvatureRecorder` (the last two only when enabled).
CURVATURE_LOGGER_KEYS = ("full_train_trace", "full_train_trace_std_error", "full_train_top_eigenvalues",
                         "full_train_spectral_density", "full_train_layer_traces")

#: Quantities with their own independent probe stream, in :func:`probe_generators` order.
_STREAMS = ("trace", "lanczos", "density", "layer_traces")


def probe_generators(seed, iteration):
    """The independent random generators of one recording.

    Parameters
    ----------
    seed : int or None
        ``settings['seed']``; None is taken as 0, so recordings are reproducible
        and identical on every MPI rank even when the optimizer is unseeded.
    iteration : int
        The training iteration of the recording.

    Returns
    -------
    dict
        ``{'trace', 'lanczos', 'density', 'layer_traces'}`` -> ``numpy.random.Generator``,
        children of ``numpy.random.SeedSequence([seed, iteration])``.
    """
    base = 0 if seed is None else int(seed)
    children = np.random.SeedSequence([base, int(iteration)]).spawn(len(_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children)}


def network_layer_names(problem):
    """Names of the layers holding trainable weights, in the order of ``w``.

    From the keys of ``problem.layer_descriptors`` (``'dense/kernel:0'`` gives
    ``'dense'``); each is a valid ``layer_name=`` of a curvature operator.
    """
    names = []
    for key in problem.layer_descriptors:
        name = key.rsplit("/", 1)[0] if "/" in key else key.split(":", 1)[0]
        if name not in names:
            names.append(name)
    return names


class CurvatureRecorder:
    """Record trace, top eigenvalues, density and layer traces of a curvature operator.

    Parameters
    ----------
    problem : Problem
    regularization : L2Regularization or None
        Its ``gamma I`` is included in the recorded operator.
    sess : tf.compat.v1.Session
    settings : ParameterList
        The model's settings (``hessian_type``, ``seed``, ``trace_probes``,
        ``top_eigenvalues``, ``lanczos_max_iterations``, ``record_density``,
        ``density_probes``, ``density_lanczos_steps``, ``record_layer_traces``).
    comm : communicator, optional

    Notes
    -----
    The Lanczos tolerance (Ritz residual relative to the largest Ritz value) is
    ``1e-6`` in float64 and ``1e-4`` in float32, the symmetry tolerance ``1e-8``
    and ``1e-4``; a run that ends before the
    ``k`` eigenvalues converge issues the ``RuntimeWarning`` of
    :func:`~hessianlearn.algorithms.lanczos` and records the current Ritz values.
    """

    def __init__(self, problem, regularization, sess, settings, comm=None):
        from ..algorithms.optimizer import CURVATURE_OPERATORS

        hessian_type = settings["hessian_type"]
        if hessian_type not in CURVATURE_OPERATORS:
            raise ValueError(
                f"settings['hessian_type'] = {hessian_type!r} is not a curvature operator; choose "
                f"one of {', '.join(repr(k) for k in CURVATURE_OPERATORS)}."
            )
        self.settings = settings
        self.operator_class = CURVATURE_OPERATORS[hessian_type]
        self.operator = self.operator_class(problem, sess, regularization, comm=comm)
        self.layer_operators = {}
        if settings["record_layer_traces"]:
            self.layer_operators = {
                name: self.operator_class(problem, sess, regularization, comm=comm, layer_name=name)
                for name in network_layer_names(problem)}
        single = np.dtype(self.operator.dtype) == np.float32
        self.symmetry_tolerance = 1e-4 if single else 1e-8
        self.tolerance = 1e-4 if single else 1e-6

    @staticmethod
    def logger_keys(settings):
        """The keys :meth:`record` fills under ``settings``."""
        keys = list(CURVATURE_LOGGER_KEYS[:3])
        if settings["record_density"]:
            keys.append("full_train_spectral_density")
        if settings["record_layer_traces"]:
            keys.append("full_train_layer_traces")
        return keys

    def record(self, feed_dict, logger, iteration):
        """Compute the diagnostics on ``feed_dict`` and store them under ``iteration``.

        Parameters
        ----------
        feed_dict : dict
            The spectrum data (not modified).
        logger : dict
            Gets the entries of :meth:`logger_keys` (created when missing).
        iteration : int
        """
        from ..algorithms.lanczos import lanczos, spectral_density
        from ..algorithms.trace_estimators import hutchinson_trace

        s = self.settings
        rngs = probe_generators(s["seed"], iteration)
        n = self.operator.dimension
        A = self.operator.as_linear_operator(feed_dict)
        trace, error = hutchinson_trace(A, n, s["trace_probes"], seed=rngs["trace"])
        logger.setdefault("full_train_trace", {})[iteration] = trace
        logger.setdefault("full_train_trace_std_error", {})[iteration] = error

        k = min(s["top_eigenvalues"], n)
        values, _ = lanczos(A, n, k, which="LA", max_iterations=min(s["lanczos_max_iterations"], n),
                            seed=rngs["lanczos"], tolerance=self.tolerance,
                            symmetry_tolerance=self.symmetry_tolerance)
        logger.setdefault("full_train_top_eigenvalues", {})[iteration] = np.array(values[::-1])

        if s["record_density"]:
            grid, density = spectral_density(A, n, probes=s["density_probes"],
                                             lanczos_steps=s["density_lanczos_steps"],
                                             seed=rngs["density"])
            logger.setdefault("full_train_spectral_density", {})[iteration] = (grid, density)

        if self.layer_operators:
            traces = {}
            for name, operator in self.layer_operators.items():
                block = operator.as_linear_operator(feed_dict)
                traces[name] = hutchinson_trace(block, operator.dimension, s["trace_probes"],
                                                seed=rngs["layer_traces"])
            logger.setdefault("full_train_layer_traces", {})[iteration] = traces
