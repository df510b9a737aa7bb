"""Figures from loggers: what is drawn, saved files, clear errors."""
import numpy as np
import pytest

from hessianlearn.utilities.plotting import (logger_series, plot_eigenvalues, plot_image_grid,
                                             plot_training_curves)


@pytest.fixture
def logger():
    rng = np.random.default_rng(0)
    n = 500
    return {
        "sweeps": {i: i / 100 for i in range(n)},
        "train_loss": {i: 1.0 / (1 + i) + 0.01 * rng.random() for i in range(n)},
        "val_loss": {i: 1.0 / (1 + i) for i in range(99, n, 100)},
        "initial_val_loss": 1.5,
        "train_eigenvalues": {i: np.sort(rng.random(5))[::-1] for i in range(n)},
    }


def test_logger_series_pairs_sparse_entries_with_sweeps(logger):
    x, y = logger_series(logger, "val_loss")
    np.testing.assert_allclose(x, [0.99, 1.99, 2.99, 3.99, 4.99])
    np.testing.assert_allclose(y, [1 / 100, 1 / 200, 1 / 300, 1 / 400, 1 / 500])
    with pytest.raises(KeyError, match="val_acc"):
        logger_series(logger, "val_acc")


def test_training_curves_start_validation_at_the_initial_value(logger, tmp_path):
    path = tmp_path / "curves.png"
    fig = plot_training_curves(logger, path=str(path))
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == {"train_loss", "val_loss"}
    val_x, val_y = lines["val_loss"].get_data()
    assert val_x[0] == 0.0 and val_y[0] == 1.5 and len(val_x) == 6
    assert len(lines["train_loss"].get_data()[0]) == 500
    assert path.stat().st_size > 1000


def test_training_curves_compare_runs(logger):
    fig = plot_training_curves({"lrsfn": logger, "adam": logger}, keys=("val_loss",))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["lrsfn val_loss", "adam val_loss"]


def test_eigenvalues_are_subsampled_and_one_curve_per_index(logger):
    fig = plot_eigenvalues(logger, max_points=50)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 5
    assert all(len(line.get_data()[0]) == 50 for line in lines)
    with pytest.raises(KeyError):
        plot_eigenvalues({"sweeps": {}})


def test_image_grid_has_one_axis_per_image():
    images = np.random.default_rng(1).random((3, 784))
    fig = plot_image_grid([images, images[:2]], row_labels=["a", "b"])
    assert len(fig.axes) == 6
    assert sum(bool(ax.images) for ax in fig.axes) == 5
