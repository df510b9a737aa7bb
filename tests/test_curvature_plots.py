"""Curvature plots: drawn data equal the inputs; bad input and missing matplotlib are clear errors."""
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hessianlearn.utilities.curvature_plots import (  # noqa: E402
    plot_eigenvalues_over_training, plot_layer_traces, plot_spectral_density)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _density():
    grid = np.linspace(-1.0, 3.0, 50)
    return grid, np.exp(-grid ** 2)


def test_spectral_density_single_and_overlaid(tmp_path):
    grid, density = _density()
    fig = plot_spectral_density((grid, density), logy=False)
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_xdata(), grid)
    np.testing.assert_array_equal(line.get_ydata(), density)

    path = tmp_path / "density.png"
    fig = plot_spectral_density({"Hessian": (grid, density), "Gauss-Newton": (grid, 0 * density)},
                                floor=1e-8, path=path)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["Hessian", "Gauss-Newton"]
    np.testing.assert_array_equal(lines[1].get_ydata(), np.full(grid.size, 1e-8))  # floored for log
    assert fig.axes[0].get_yscale() == "log"
    assert path.stat().st_size > 0


def test_spectral_density_bad_input():
    grid, density = _density()
    with pytest.raises(ValueError, match="same length"):
        plot_spectral_density((grid, density[:-1]))
    with pytest.raises(ValueError, match="strictly increasing"):
        plot_spectral_density((grid[::-1], density))
    with pytest.raises(ValueError, match=">= 0"):
        plot_spectral_density((grid, -density))
    with pytest.raises(TypeError, match="pair"):
        plot_spectral_density(density)


def test_eigenvalues_over_training_from_a_logger_dict():
    records = {0: [3.0, -1.0], 5: [2.0, 1.0, -0.5], 10: None}
    fig = plot_eigenvalues_over_training(records, label="Hessian")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 3  # one per rank, up to the longest record
    np.testing.assert_array_equal(lines[0].get_xdata(), [0.0, 5.0])
    np.testing.assert_array_equal(lines[0].get_ydata(), [3.0, 2.0])  # largest
    np.testing.assert_array_equal(lines[1].get_ydata(), [-1.0, 1.0])
    np.testing.assert_array_equal(lines[2].get_ydata(), [np.nan, -0.5])
    assert ax.get_yscale() == "symlog"


def test_eigenvalues_over_training_overlay_and_bad_input():
    fig = plot_eigenvalues_over_training([[1.0, 2.0], [1.5, 2.5]], iterations=[1, 2], symlog=False)
    plot_eigenvalues_over_training([[0.5]], iterations=[2], ax=fig.axes[0], label="GGN")
    assert len(fig.axes[0].get_lines()) == 3
    with pytest.raises(ValueError, match="one entry per eigenvalue record"):
        plot_eigenvalues_over_training([[1.0], [2.0]], iterations=[1])
    with pytest.raises(ValueError, match="empty"):
        plot_eigenvalues_over_training([])
    with pytest.raises(ValueError, match="iterations must be None"):
        plot_eigenvalues_over_training({0: [1.0]}, iterations=[0])


def test_layer_traces_single_and_grouped():
    fig = plot_layer_traces({"dense": (2.0, 0.1), "dense_1": 5.0})
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [2.0, 5.0]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["dense", "dense_1"]

    fig = plot_layer_traces({"Hessian": {"a": -1.0, "b": 4.0}, "Gauss-Newton": {"a": 1.0, "b": 3.0}})
    heights = [b.get_height() for b in fig.axes[0].patches]
    assert heights == [-1.0, 4.0, 1.0, 3.0]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["Hessian", "Gauss-Newton"]


def test_layer_traces_bad_input():
    with pytest.raises(TypeError, match="non-empty dict"):
        plot_layer_traces({})
    with pytest.raises(ValueError, match="not finite"):
        plot_layer_traces({"a": np.nan})
    with pytest.raises(ValueError, match="logy=True needs positive"):
        plot_layer_traces({"a": -1.0}, logy=True)
    with pytest.raises(TypeError, match="mixes"):
        plot_layer_traces({"a": 1.0, "s": {"b": 2.0}})


def test_missing_matplotlib_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_spectral_density(_density())
