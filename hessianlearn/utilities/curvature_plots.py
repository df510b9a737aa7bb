"""Figures of curvature information: spectral densities, eigenvalues over training, per-layer traces.

These draw what the estimators of :mod:`hessianlearn.algorithms` return
(``spectral_density``, ``lanczos``, ``hutchinson_trace``), for the Hessian or
the generalized Gauss-Newton matrix, over all weights or one layer
(``layer_name=`` on the operator). matplotlib is optional: it is imported when
a figure is drawn, with a clear ``ImportError`` if it is missing. Every
function draws into ``ax`` if given (so curves can be overlaid), else into a
new figure, saves the figure to ``path`` if given, and returns the
``Figure``.
"""
from collections.abc import Mapping

import numpy as np

__all__ = ["plot_spectral_density", "plot_eigenvalues_over_training", "plot_layer_traces",
           "plot_trace_over_training"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "hessianlearn's curvature plots need matplotlib, which is not installed: "
            "pip install matplotlib."
        ) from err
    return plt


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = _pyplot().subplots(figsize=figsize)
    return fig, ax


def _finish(fig, ax, title, path):
    if title is not None:
        ax.set_title(title)
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _check_density(label, pair):
    try:
        grid, density = pair
    except (TypeError, ValueError) as err:
        raise TypeError(f"density {label!r} must be a (grid, density) pair of 1-D arrays.") from err
    grid = np.asarray(grid, dtype=float)
    density = np.asarray(density, dtype=float)
    if grid.ndim != 1 or grid.shape != density.shape or grid.size < 2:
        raise ValueError(
            f"density {label!r}: grid and density must be 1-D arrays of the same length >= 2, "
            f"got shapes {grid.shape} and {density.shape}."
        )
    if np.any(np.diff(grid) <= 0):
        raise ValueError(f"density {label!r}: grid must be strictly increasing.")
    if not np.all(np.isfinite(density)) or np.any(density < 0):
        raise ValueError(f"density {label!r}: density values must be finite and >= 0.")
    return grid, density


def plot_spectral_density(densities, ax=None, logy=True, floor=1e-10, title=None, path=None):
    """Plot spectral densities ``phi(t)`` of curvature operators.

    Parameters
    ----------
    densities : (grid, density) pair, or dict {label: (grid, density)}
        Arrays of shape ``(g,)`` as returned by
        :func:`hessianlearn.algorithms.spectral_density`; a dict overlays several
        (e.g. ``{'Hessian': ..., 'Gauss-Newton': ...}``).
    ax : matplotlib Axes, optional
    logy : bool
        Log scale for the density (outlier eigenvalues carry little mass, as in
        Ghorbani et al. 2019); values below ``floor`` are drawn at ``floor``.
    floor : float
        Smallest density drawn with ``logy``.
    title : str, optional
    path : str or path-like, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError, ValueError
        If a density is not a pair of equally long 1-D arrays with an increasing
        grid and finite, nonnegative values.
    """
    def is_pair(v):
        return isinstance(v, (tuple, list)) and len(v) == 2
    if isinstance(densities, Mapping):
        if not densities:
            raise ValueError("densities is an empty dict; pass at least one (grid, density) pair.")
        series = dict(densities)
    elif is_pair(densities):
        series = {None: densities}
    else:
        raise TypeError("densities must be a (grid, density) pair or a dict {label: (grid, density)}.")
    checked = {label: _check_density(label, pair) for label, pair in series.items()}
    fig, ax = _axes(ax, (6.4, 4.2))
    for label, (grid, density) in checked.items():
        ax.plot(grid, np.maximum(density, floor) if logy else density, lw=1.2, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    if any(label is not None for label in checked):
        ax.legend()
    ax.grid(True, alpha=0.3)
    return _finish(fig, ax, title, path)


def _eigenvalue_table(eigenvalues, iterations):
    """``(x (t,), values (t, k))`` with NaN where a record has fewer than ``k`` values."""
    if isinstance(eigenvalues, Mapping):
        if iterations is not None:
            raise ValueError("iterations must be None when eigenvalues is a dict {iteration: values}.")
        keys = sorted(k for k, v in eigenvalues.items() if v is not None)
        x = np.asarray(keys, dtype=float)
        rows = [np.atleast_1d(np.asarray(eigenvalues[k], dtype=float)) for k in keys]
    else:
        rows = [np.atleast_1d(np.asarray(r, dtype=float)) for r in eigenvalues]
        x = np.arange(len(rows), dtype=float) if iterations is None else np.asarray(iterations, dtype=float)
        if x.shape != (len(rows),):
            raise ValueError(
                f"iterations must have one entry per eigenvalue record: {len(rows)} records, "
                f"iterations of shape {x.shape}."
            )
    if not rows:
        raise ValueError("eigenvalues is empty; record at least one set of eigenvalues.")
    if any(r.ndim != 1 for r in rows):
        raise ValueError("each eigenvalue record must be a 1-D array of eigenvalues.")
    k = max(r.size for r in rows)
    values = np.full((len(rows), k), np.nan)
    for i, r in enumerate(rows):
        values[i, : r.size] = np.sort(r)[::-1]  # largest first, so curve j is the j-th largest
    return x, values


def plot_eigenvalues_over_training(eigenvalues, iterations=None, ax=None, label=None, symlog=True,
                                   xlabel="iteration", title=None, path=None):
    """Plot recorded eigenvalues against the training iteration, one curve per rank.

    Parameters
    ----------
    eigenvalues : dict {iteration: array (k,)}, or sequence of arrays (k,)
        Eigenvalues recorded during training (e.g. the top ``k`` from
        :func:`hessianlearn.algorithms.lanczos`, or a logger entry). Records
        may have different lengths. Curve ``j`` follows the ``j``-th largest.
    iterations : array (t,), optional
        x values for a sequence (default ``0, 1, ...``); must be None for a dict.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label of this set of curves (e.g. ``'Hessian'``).
    symlog : bool
        Symmetric log scale, so negative eigenvalues of an indefinite Hessian
        are shown with the positive ones.
    xlabel, title : str
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    x, values = _eigenvalue_table(eigenvalues, iterations)
    fig, ax = _axes(ax, (6.4, 4.2))
    k = values.shape[1]
    cmap = _pyplot().get_cmap("viridis")
    for j in range(k):
        ax.plot(x, values[:, j], color=cmap(j / max(k - 1, 1)), lw=1.0, marker=".",
                label=label if j == 0 else None)
    if symlog:
        finite = np.abs(values[np.isfinite(values)])
        positive = finite[finite > 0]
        linthresh = max(float(positive.min()) if positive.size else 1.0, 1e-12)
        ax.set_yscale("symlog", linthresh=linthresh)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("eigenvalue")
    if label is not None:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return _finish(fig, ax, title, path)


def _trace_entry(series, name, value):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"trace of {name!r} in {series!r} must be a number or an (estimate, "
                             f"standard_error) pair, got {value!r}.")
        estimate, error = float(value[0]), float(value[1])
    else:
        estimate, error = float(value), np.nan
    if not np.isfinite(estimate):
        raise ValueError(f"trace of {name!r} in {series!r} is not finite: {estimate!r}.")
    return estimate, error


def plot_layer_traces(traces, ax=None, logy=False, title=None, path=None):
    """Bar chart of per-layer curvature traces, with standard-error bars where given.

    Parameters
    ----------
    traces : dict {layer_name: value}, or dict {series_label: {layer_name: value}}
        ``value`` is a trace or an ``(estimate, standard_error)`` pair (what
        :func:`hessianlearn.algorithms.hutchinson_trace` returns for an operator
        with ``layer_name=``). Several series (e.g. ``'Hessian'`` and
        ``'Gauss-Newton'``) are drawn as grouped bars over the union of layers.
    ax : matplotlib Axes, optional
    logy : bool
        Log scale (all traces must then be positive).
    title : str, optional
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError, ValueError
        If ``traces`` is not such a dict, is empty, holds non-finite values, or
        ``logy`` is asked for with a trace <= 0.
    """
    if not isinstance(traces, Mapping) or not traces:
        raise TypeError("traces must be a non-empty dict {layer_name: trace} or "
                        "{series_label: {layer_name: trace}}.")
    grouped = all(isinstance(v, Mapping) for v in traces.values())
    if not grouped and any(isinstance(v, Mapping) for v in traces.values()):
        raise TypeError("traces mixes layers and series; use either {layer: trace} or "
                        "{series: {layer: trace}}.")
    series = dict(traces) if grouped else {None: traces}
    layers = []
    for per_layer in series.values():
        layers.extend(name for name in per_layer if name not in layers)
    table = {label: {name: _trace_entry(label, name, value) for name, value in per_layer.items()}
             for label, per_layer in series.items()}
    if logy and any(e <= 0 for per_layer in table.values() for e, _ in per_layer.values()):
        raise ValueError("logy=True needs positive traces; a Hessian block can have a negative "
                         "trace, use logy=False.")
    fig, ax = _axes(ax, (max(6.4, 0.9 * len(layers) * len(series)), 4.2))
    width = 0.8 / len(series)
    positions = np.arange(len(layers), dtype=float)
    for s, (label, per_layer) in enumerate(table.items()):
        xs = [positions[layers.index(name)] + (s - (len(series) - 1) / 2) * width for name in per_layer]
        estimates = [e for e, _ in per_layer.values()]
        errors = [0.0 if np.isnan(err) else err for _, err in per_layer.values()]
        ax.bar(xs, estimates, width=width, label=label,
               yerr=errors if any(errors) else None, capsize=3)
    ax.set_xticks(positions)
    ax.set_xticklabels(layers, rotation=30, ha="right")
    ax.set_ylabel("trace")
    if logy:
        ax.set_yscale("log")
    if grouped:
        ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    return _finish(fig, ax, title, path)


def _series(name, values):
    if not isinstance(values, Mapping) or not values:
        raise TypeError(f"{name} must be a non-empty dict {{iteration: value}} (a logger series).")
    return values


def plot_trace_over_training(traces, standard_errors=None, sweeps=None, ax=None, label=None,
                             band=2.0, title=None, path=None):
    """Plot a recorded trace estimate against training, with a standard-error band.

    Parameters
    ----------
    traces : dict {iteration: float}
        E.g. ``logger['full_train_trace']`` (Hutchinson estimates of
        :math:`\\operatorname{tr} A` recorded with ``record_spectrum``).
    standard_errors : dict {iteration: float}, optional
        E.g. ``logger['full_train_trace_std_error']``; draws the band
        ``trace +- band * standard_error`` (NaN errors draw no band there).
    sweeps : dict {iteration: float}, optional
        The x value of each key of ``traces`` in sweeps instead of the key itself.
        The fit loop keys a recording ``i`` when it takes it after step ``i``, at
        the iterate ``w_{i+1}``: pass ``{i: logger['sweeps'][i + 1] for i in traces}``
        to draw it where it was taken (``logger['sweeps']`` itself draws it one
        step early).
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label (e.g. ``'Hessian'``), so several runs can be overlaid.
    band : float
        Half-width of the band in standard errors (2: about 95% for a normal error).
    title : str, optional
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If ``traces`` (or ``standard_errors``/``sweeps``) is not a non-empty dict.
    ValueError
        If ``standard_errors`` or ``sweeps`` misses an iteration of ``traces``,
        a trace is not finite, or ``band < 0``.
    """
    traces = _series("traces", traces)
    iterations = sorted(traces)
    values = np.array([float(traces[i]) for i in iterations])
    if not np.all(np.isfinite(values)):
        raise ValueError("traces holds NaN or inf values.")
    if not band >= 0:
        raise ValueError(f"band must be >= 0 standard errors, got {band!r}.")
    for name, extra in (("standard_errors", standard_errors), ("sweeps", sweeps)):
        if extra is not None:
            missing = [i for i in iterations if i not in _series(name, extra)]
            if missing:
                raise ValueError(f"{name} has no entry for iterations {missing[:5]} of traces.")
    x = np.array([float(sweeps[i]) for i in iterations]) if sweeps is not None \
        else np.array(iterations, dtype=float)
    fig, ax = _axes(ax, (6.4, 4.2))
    (line,) = ax.plot(x, values, marker=".", lw=1.2, label=label)
    if standard_errors is not None and band > 0:
        errors = np.array([float(standard_errors[i]) for i in iterations])
        ax.fill_between(x, values - band * errors, values + band * errors, color=line.get_color(),
                        alpha=0.2, lw=0)
    ax.set_xlabel("sweeps" if sweeps is not None else "iteration")
    ax.set_ylabel("trace")
    if label is not None:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return _finish(fig, ax, title, path)
