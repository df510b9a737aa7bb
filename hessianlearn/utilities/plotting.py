"""Figures from training logs: loss curves, eigenvalue spectra, image grids.

matplotlib is optional: it is imported only when a figure is drawn, with a
clear message if it is missing. Every function returns the matplotlib
``Figure`` and, when ``path`` is given, saves it (PNG by extension).

A logger is the dict that ``HessianlearnModel.fit`` fills: keys such as
``'sweeps'``, ``'train_loss'``, ``'val_loss'``, ``'train_eigenvalues'``, each a
dict ``{iteration: value}``.
"""
import numpy as np

__all__ = [
    "require_matplotlib",
    "logger_series",
    "plot_training_curves",
    "plot_eigenvalues",
    "plot_image_grid",
]


def require_matplotlib():
    """Import ``matplotlib.pyplot`` with the Agg backend, or raise a clear ImportError."""
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: pip install matplotlib (or pip install 'hessianlearn[tutorial]')."
        ) from err
    return plt


def logger_series(logger, key, x_key="sweeps"):
    """The ``(x, y)`` arrays of ``logger[key]`` against ``logger[x_key]``, sorted by iteration.

    Only iterations present in both entries are used (validation is logged at
    sweep boundaries only).
    """
    if key not in logger:
        raise KeyError(f"the logger has no entry {key!r}; it has {sorted(logger)}")
    ys = logger[key]
    xs = logger[x_key]
    iterations = sorted(i for i in ys if i in xs and ys[i] is not None)
    return (np.array([xs[i] for i in iterations], dtype=float),
            np.array([ys[i] for i in iterations], dtype=float))


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_training_curves(loggers, keys=("train_loss", "val_loss"), x_key="sweeps", logy=True,
                         title=None, path=None):
    """Loss (or accuracy) against sweeps for one or several runs.

    Parameters
    ----------
    loggers : dict or mapping of label -> logger
        One logger, or several keyed by the label to show in the legend.
    keys : sequence of str
        Logger entries to draw, one line style each.
    """
    plt = require_matplotlib()
    if "sweeps" in loggers or x_key in loggers:
        loggers = {"": loggers}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for run, (label, logger) in enumerate(loggers.items()):
        for k, key in enumerate(keys):
            if key not in logger:
                continue
            x, y = logger_series(logger, key, x_key)
            if f"initial_{key}" in logger and 0 not in logger[key]:  # older loggers: no key 0
                x, y = np.r_[0.0, x], np.r_[logger[f"initial_{key}"], y]
            # One color per run when comparing runs, else one per entry.
            color = colors[(run if len(loggers) > 1 else k) % len(colors)]
            name = f"{label} {key}".strip()
            if key.startswith("val"):  # sparse (per validation): markers, drawn on top
                ax.plot(x, y, "-", color=color, label=name, marker="o", markersize=3, lw=1.5, zorder=3)
            else:  # per-iteration mini-batch values: thin and light
                style = "--" if len(loggers) > 1 and len(keys) > 1 else "-"
                ax.plot(x, y, style, color=color, label=name, lw=0.6, alpha=0.6, zorder=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x_key)
    ax.set_ylabel(", ".join(keys))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def plot_eigenvalues(logger, key="train_eigenvalues", x_key="sweeps", max_curves=None, max_points=200,
                     title=None, path=None):
    """Eigenvalues recorded during training against sweeps (one curve per index, log ``|lambda|``).

    At most ``max_points`` evenly spaced iterations are drawn.
    """
    plt = require_matplotlib()
    if key not in logger or not logger[key]:
        raise KeyError(f"the logger has no eigenvalues under {key!r}")
    iterations = sorted(i for i in logger[key] if logger[key][i] is not None and i in logger[x_key])
    rank = max(len(logger[key][i]) for i in iterations)
    if max_curves is not None:
        rank = min(rank, max_curves)
    if len(iterations) > max_points:  # evenly spaced iterations keep the figure readable
        iterations = [iterations[j] for j in np.linspace(0, len(iterations) - 1, max_points).astype(int)]
    x = np.array([logger[x_key][i] for i in iterations])
    values = np.full((len(iterations), rank), np.nan)
    for row, i in enumerate(iterations):
        lam = np.sort(np.abs(np.asarray(logger[key][i], dtype=float)))[::-1][:rank]
        values[row, : len(lam)] = lam
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    cmap = plt.get_cmap("viridis")
    for j in range(rank):
        ax.plot(x, values[:, j], color=cmap(j / max(rank - 1, 1)), lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel(x_key)
    ax.set_ylabel("|eigenvalue|")
    ax.set_title(title or f"{rank} largest |eigenvalues| of the Hessian during training")
    ax.grid(True, which="both", alpha=0.3)
    return _finish(fig, path)


def plot_image_grid(rows, row_labels=None, image_shape=(28, 28), title=None, path=None):
    """A grid of images: ``rows`` is a list of arrays ``(n_images, prod(image_shape))``.

    Typical use: originals in the first row, reconstructions in the second.
    """
    plt = require_matplotlib()
    rows = [np.asarray(r) for r in rows]
    n_cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.1 * n_cols, 1.2 * len(rows)), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row):
                ax.imshow(row[j].reshape(image_shape), cmap="gray", vmin=0.0, vmax=1.0)
            if j == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[i], fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)
