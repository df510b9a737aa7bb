"""Summaries of a comparison record: seed statistics, the markdown table and the figure.

The record is the JSON-ready dict built by
:func:`~hessianlearn.lab.comparison.compare_optimizers` (also what
``comparison.json`` holds): ``runs`` is a list of ``{label, seed, curves, ...}``
with ``curves`` = ``sweeps``, ``seconds``, ``val_loss`` (and ``val_acc``), one
entry per validation.
"""
import numpy as np

from ..utilities.plotting import require_matplotlib

__all__ = ["run_labels", "curves_on_grid", "comparison_statistics", "comparison_table", "plot_comparison"]


def run_labels(record):
    """The optimizer labels of the record, in the order they were given."""
    return [spec["label"] for spec in record["optimizers"]]


def _runs_of(record, label):
    return [run for run in record["runs"] if run["label"] == label]


def _values(curves, key):
    return np.array([np.nan if v is None else v for v in curves.get(key, [])], dtype=float)


def curves_on_grid(runs, key, x_key, grid):
    """Each run's ``key`` curve linearly interpolated at ``grid`` (of ``x_key``); NaN outside the run.

    Returns
    -------
    numpy.ndarray, shape (len(runs), len(grid))
    """
    out = np.full((len(runs), len(grid)), np.nan)
    for r, run in enumerate(runs):
        x, y = _values(run["curves"], x_key), _values(run["curves"], key)
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        if len(x) == 0:
            continue
        inside = (grid >= x[0]) & (grid <= x[-1])
        out[r, inside] = np.interp(grid[inside], x, y)
    return out


def _stats(values):
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if values.size == 0:
        return {"median": None, "min": None, "max": None}
    return {"median": float(np.median(values)), "min": float(values.min()), "max": float(values.max())}


def _first_reach(curves, target):
    for s, loss in zip(curves["sweeps"], curves["val_loss"]):
        if loss is not None and loss <= target:
            return float(s)
    return None


def comparison_statistics(record, target_loss=None):
    """Per-optimizer statistics over the seeds.

    Parameters
    ----------
    record : dict
    target_loss : float, optional
        Default ``record['target_loss']``, else the largest median (over seeds)
        best validation loss among the optimizers, a loss every optimizer's
        median run reaches.

    Returns
    -------
    target : float
    statistics : dict
        label -> ``final_loss``, ``best_loss``, (``final_acc``, ``best_acc``), each
        ``{median, min, max}`` over seeds; ``sweeps_to_target`` (median over the
        seeds that reach it, at the validations' resolution), ``reached`` (how
        many seeds), ``seeds``; ``seconds_per_sweep`` ``{median, min, max}``.
    """
    statistics = {}
    for label in run_labels(record):
        runs = _runs_of(record, label)
        finals = [_values(r["curves"], "val_loss")[-1] if r["curves"]["val_loss"] else None for r in runs]
        bests = [np.nanmin(_values(r["curves"], "val_loss")) if np.isfinite(_values(r["curves"], "val_loss")).any()
                 else None for r in runs]
        entry = {"final_loss": _stats(finals), "best_loss": _stats(bests), "seeds": len(runs),
                 "seconds_per_sweep": _stats([r.get("seconds_per_sweep") for r in runs])}
        if record.get("has_accuracy"):
            accuracies = [_values(r["curves"], "val_acc") for r in runs]
            entry["final_acc"] = _stats([a[-1] if a.size else None for a in accuracies])
            entry["best_acc"] = _stats([np.nanmax(a) if np.isfinite(a).any() else None for a in accuracies])
        statistics[label] = entry
    target = target_loss if target_loss is not None else record.get("target_loss")
    if target is None:
        medians = [s["best_loss"]["median"] for s in statistics.values() if s["best_loss"]["median"] is not None]
        target = max(medians) if medians else None
    for label, entry in statistics.items():
        reach = [_first_reach(r["curves"], target) for r in _runs_of(record, label)] if target is not None else []
        reached = [s for s in reach if s is not None]
        entry["sweeps_to_target"] = float(np.median(reached)) if reached else None
        entry["reached"] = len(reached)
    return target, statistics


def _number(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}e}"


def _triple(stats, percent=False):
    if stats["median"] is None:
        return "n/a"
    if percent:
        return f"{100 * stats['median']:.2f} [{100 * stats['min']:.2f}, {100 * stats['max']:.2f}]"
    return f"{_number(stats['median'])} [{_number(stats['min'])}, {_number(stats['max'])}]"


def comparison_table(record, target_loss=None):
    """The markdown table of a comparison: one row per optimizer.

    Columns: final and best validation loss (median [min, max] over seeds), with
    accuracy the final and best validation accuracy in percent, the sweeps to
    reach the target loss (median over the seeds that reach it; reached/seeds)
    and the seconds per sweep (median; wall clock of the fit loop, validations
    included).
    """
    target, statistics = comparison_statistics(record, target_loss)
    accuracy = bool(record.get("has_accuracy"))
    header = ["optimizer", "final val loss", "best val loss"]
    if accuracy:
        header += ["final val acc %", "best val acc %"]
    header += [f"sweeps to val loss <= {_number(target)}", "s per sweep"]
    lines = [f"{record['workload']}: {record['max_sweeps']:g} sweeps, seeds {record['seeds']}; "
             "median [min, max] over seeds", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, s in statistics.items():
        row = [label, _triple(s["final_loss"]), _triple(s["best_loss"])]
        if accuracy:
            row += [_triple(s["final_acc"], True), _triple(s["best_acc"], True)]
        reach = "not reached" if s["sweeps_to_target"] is None else f"{s['sweeps_to_target']:.3g}"
        spp = s["seconds_per_sweep"]["median"]
        row += [f"{reach} ({s['reached']}/{s['seeds']})", "n/a" if spp is None else f"{spp:.3g}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _band(ax, grid, values, color, label, logy):
    defined = np.isfinite(values).any(axis=0)
    if not defined.any():
        return
    x = grid[defined]
    v = values[:, defined]
    median, low, high = np.nanmedian(v, axis=0), np.nanmin(v, axis=0), np.nanmax(v, axis=0)
    ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
    ax.plot(x, median, color=color, lw=1.6, label=label)
    if logy:
        ax.set_yscale("log")


def plot_comparison(record, path=None, points=200):
    """Validation loss (and accuracy) against sweeps and against wall-clock seconds.

    Median over the seeds, with the min-max band, one colour per optimizer; the
    legend shows each optimizer's label (its settings). Each run's curve is
    interpolated linearly between its validations on a grid of ``points``
    values and is undefined past its last validation; a dotted line marks the
    sweeps budget (a run stops at its first step past it).

    Returns
    -------
    str or matplotlib.figure.Figure
        ``path`` when given (the figure is saved and closed), else the figure.
    """
    plt = require_matplotlib()
    keys = [("val_loss", "validation loss", True)]
    if record.get("has_accuracy"):
        keys.append(("val_acc", "validation accuracy", False))
    fig, axes = plt.subplots(len(keys), 2, figsize=(11, 3.8 * len(keys)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    def largest(key):
        return max([max([v for v in r["curves"][key] if v is not None] or [0.0]) for r in record["runs"]] + [1e-9])

    # runs end at the first validation past the budget; the sweeps axis shows the overshoot
    grids = {"sweeps": np.linspace(0.0, max(largest("sweeps"), record["max_sweeps"]), points),
             "seconds": np.linspace(0.0, largest("seconds"), points)}
    for k, label in enumerate(run_labels(record)):
        runs = _runs_of(record, label)
        color = colors[k % len(colors)]
        for row, (key, _, logy) in enumerate(keys):
            for column, x_key in enumerate(("sweeps", "seconds")):
                values = curves_on_grid(runs, key, x_key, grids[x_key])
                seeds = f"{len(runs)} seed{'s' if len(runs) != 1 else ''}"
                _band(axes[row, column], grids[x_key], values, color, f"{label} ({seeds})", logy)
    for row, (_, name, _) in enumerate(keys):
        for column, x_name in enumerate(("sweeps", "wall-clock seconds")):
            ax = axes[row, column]
            ax.set_xlabel(x_name)
            ax.set_ylabel(name)
            ax.grid(True, which="both", alpha=0.3)
        axes[row, 0].axvline(record["max_sweeps"], color="0.4", ls=":", lw=1)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    columns = min(3, max(1, len(labels)))
    rows = -(-len(labels) // columns)
    legend_height = 0.35 * rows / fig.get_figheight()  # inches per legend row, as a fraction of the figure
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=8, frameon=False)
    fig.suptitle(f"{record['workload']}: median over seeds {record['seeds']}, min-max band")
    fig.tight_layout(rect=(0, legend_height, 1, 1))
    if path is None:
        return fig
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
