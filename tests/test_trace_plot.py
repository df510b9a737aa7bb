"""plot_trace_over_training: drawn data equal the logger series; bad input is a clear error."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hessianlearn.utilities.curvature_plots import plot_trace_over_training  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_trace_line_band_and_sweeps_axis(tmp_path):
    traces = {4: 3.0, 0: 1.0, 2: 2.0}
    errors = {0: 0.1, 2: 0.2, 4: 0.3}
    sweeps = {0: 0.1, 1: 0.2, 2: 0.5, 3: 0.7, 4: 1.0}
    path = tmp_path / "trace.png"
    fig = plot_trace_over_training(traces, errors, sweeps=sweeps, label="Hessian", path=path)
    ax = fig.axes[0]
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0.1, 0.5, 1.0])
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 2.0, 3.0])
    (band,) = ax.collections
    vertices = band.get_paths()[0].vertices
    np.testing.assert_allclose(vertices[:, 1].max(), 3.6)  # 3 + 2 * 0.3
    np.testing.assert_allclose(vertices[:, 1].min(), 0.8)  # 1 - 2 * 0.1
    assert ax.get_xlabel() == "sweeps" and ax.get_legend() is not None
    assert path.stat().st_size > 0


def test_iterations_axis_without_errors():
    fig = plot_trace_over_training({0: 1.0, 3: 2.0})
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [0.0, 3.0])
    assert len(ax.collections) == 0 and ax.get_xlabel() == "iteration"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"traces": {}}, TypeError, "traces"),
    ({"traces": [1.0, 2.0]}, TypeError, "traces"),
    ({"traces": {0: np.nan}}, ValueError, "NaN"),
    ({"traces": {0: 1.0, 1: 2.0}, "standard_errors": {0: 0.1}}, ValueError, "standard_errors"),
    ({"traces": {0: 1.0}, "sweeps": {1: 0.5}}, ValueError, "sweeps"),
    ({"traces": {0: 1.0}, "band": -1}, ValueError, "band"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_trace_over_training(**kwargs)
