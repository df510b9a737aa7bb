"""The optimizer-comparison harness: same seeds give the same JSON, the figure and table, bad names."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import hessianlearn as hl
from hessianlearn.lab.comparison import split_settings
from hessianlearn.lab.comparison import parse_optimizer_specs, strip_wall_times
from hessianlearn.lab.comparison_report import comparison_statistics, comparison_table, curves_on_grid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = {"train_size": 256, "validation_size": 64, "batch_size": 32, "hessian_batch_size": 8,
        "encoding_dimension": 8}
OPTIMIZERS = [("lrsfn", {"hessian_low_rank": 4}), "adam"]


def _compare(output, seeds=(0, 1)):
    return hl.compare_optimizers("mnist_autoencoder", OPTIMIZERS, seeds=list(seeds), max_sweeps=0.8,
                                 workload_options=TINY, output=str(output), validations=3, progress_bar=False)


def test_same_seeds_give_identical_json_and_the_files_are_written(tmp_path):
    first = _compare(tmp_path / "a")
    second = _compare(tmp_path / "b")
    with open(first.paths["json"]) as f:
        a = json.load(f)
    with open(second.paths["json"]) as f:
        b = json.load(f)
    assert strip_wall_times(a) == strip_wall_times(b)
    assert a != strip_wall_times(a)  # the wall times are there, and only they were removed
    assert [(r["label"], r["seed"]) for r in a["runs"]] == [
        ("lrsfn (hessian_low_rank=4)", 0), ("lrsfn (hessian_low_rank=4)", 1), ("adam", 0), ("adam", 1)]
    runs = {(r["label"], r["seed"]): r for r in a["runs"]}
    # different seeds give different curves (the comparison above could not pass by ignoring seeds)
    assert runs[("adam", 0)]["curves"]["val_loss"] != runs[("adam", 1)]["curves"]["val_loss"]
    for run in a["runs"]:
        curves = run["curves"]
        assert curves["sweeps"][0] == 0.0 and curves["sweeps"][-1] >= 0.8
        assert len(curves["sweeps"]) == len(curves["val_loss"]) == len(curves["seconds"]) >= 3
        assert curves["val_loss"][-1] < curves["val_loss"][0]  # training lowered the validation loss
        logger = first.loggers[(run["label"], run["seed"])]
        # one point per validation, the first (key 0) before training
        assert curves["val_loss"] == [logger["val_loss"][i] for i in sorted(logger["val_loss"])]
        assert min(logger["val_loss"]) == 0 and curves["val_loss"][0] == logger["initial_val_loss"]
    with open(first.paths["figure"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(first.paths["table"]) as f:
        table = f.read()
    assert "| lrsfn (hessian_low_rank=4) |" in table and "| adam |" in table and "s per sweep" in table
    assert len(first.paths["loggers"]) == 4 and all(os.path.isfile(p) for p in first.paths["loggers"])
    assert hl.load_logger(first.paths["loggers"][0])["optimizer"] == "lrsfn"


def _record():
    def run(label, seed, losses, seconds_per_sweep=1.0, acc=None):
        curves = {"sweeps": [0.0, 0.5, 1.0], "seconds": [0.0, 0.5 * seconds_per_sweep, seconds_per_sweep],
                  "val_loss": losses}
        if acc is not None:
            curves["val_acc"] = acc
        return {"label": label, "seed": seed, "curves": curves, "seconds_per_sweep": seconds_per_sweep}

    return {"workload": "toy", "max_sweeps": 1.0, "seeds": [0, 1, 2], "has_accuracy": True, "target_loss": None,
            "optimizers": [{"label": "a"}, {"label": "b"}],
            "runs": [run("a", 0, [1.0, 0.5, 0.2], 2.0, [0.1, 0.5, 0.7]),
                     run("a", 1, [1.0, 0.4, 0.3], 4.0, [0.1, 0.6, 0.8]),
                     run("a", 2, [1.0, 0.6, 0.1], 3.0, [0.1, 0.4, 0.9]),
                     run("b", 0, [1.0, 0.9, 0.8], 1.0, [0.1, 0.2, 0.3]),
                     run("b", 1, [1.0, 0.7, 0.75], 1.0, [0.1, 0.2, 0.3]),
                     run("b", 2, [1.0, 0.8, 0.9], 1.0, [0.1, 0.2, 0.3])]}


def test_statistics_median_min_max_and_sweeps_to_target():
    target, stats = comparison_statistics(_record())
    assert target == pytest.approx(0.8)  # the largest median best loss: b's best losses are 0.8, 0.7, 0.8
    a = stats["a"]
    assert a["final_loss"] == {"median": 0.2, "min": 0.1, "max": 0.3}
    assert a["best_acc"] == {"median": 0.8, "min": 0.7, "max": 0.9}
    assert a["seconds_per_sweep"]["median"] == 3.0
    assert (a["sweeps_to_target"], a["reached"]) == (0.5, 3)
    assert (stats["b"]["sweeps_to_target"], stats["b"]["reached"]) == (0.5, 3)  # at 1.0, 0.5 and 0.5
    target, stats = comparison_statistics(_record(), target_loss=0.15)
    assert (stats["a"]["sweeps_to_target"], stats["a"]["reached"]) == (1.0, 1) and stats["b"]["reached"] == 0
    table = comparison_table(_record(), target_loss=0.15)
    assert "| a | 2.000e-01 [1.000e-01, 3.000e-01] |" in table and "not reached (0/3)" in table
    assert "80.00 [70.00, 90.00]" in table


def test_curves_on_grid_interpolates_inside_each_run_only():
    runs = _record()["runs"][:1]
    values = curves_on_grid(runs, "val_loss", "sweeps", np.array([0.0, 0.25, 1.0, 1.5]))
    np.testing.assert_allclose(values[0, :3], [1.0, 0.75, 0.2])
    assert np.isnan(values[0, 3])


def test_plot_comparison_draws_loss_and_accuracy_panels():
    figure = hl.plot_comparison(_record())
    assert len(figure.axes) == 4
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["a (3 seeds)", "b (3 seeds)"]
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown workload 'mnist'.*'mnist_autoencoder'.*'cifar_transfer'"):
        hl.compare_optimizers("mnist", ["adam"])
    with pytest.raises(ValueError, match="Unknown optimizer 'adamw'.*'lrsfn'.*'adam'"):
        hl.compare_optimizers("mnist_autoencoder", ["adamw"])
    with pytest.raises(ValueError, match="Unknown workload 'x'.*'mnist_conv_autoencoder'"):
        hl.build_workload("x")
    with pytest.raises(ValueError, match="set by the harness"):
        parse_optimizer_specs([("adam", {"max_sweeps": 3})])
    with pytest.raises(ValueError, match="appear twice"):
        parse_optimizer_specs(["adam", ("adam", {})])
    with pytest.raises(KeyError):
        parse_optimizer_specs(["adam:alpah=1e-3"])
    with pytest.raises(ValueError, match="seeds"):
        hl.compare_optimizers("mnist_autoencoder", ["adam"], seeds=0)


def test_optimizer_text_form_parses_settings():
    spec, = parse_optimizer_specs(["lrsfn:hessian_low_rank=10,globalization=line_search,alpha=1.0"])
    assert spec.settings == {"hessian_low_rank": 10, "globalization": "line_search", "alpha": 1.0}
    assert spec.label == "lrsfn (hessian_low_rank=10, globalization=line_search, alpha=1)"
    spec, = parse_optimizer_specs([("adam", {"alpha": 1e-2}, {"batch_size": 100})])
    assert spec.workload_options == {"batch_size": 100} and spec.label == "adam (alpha=0.01, batch_size=100)"


def _cli(*arguments, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "applications", "compare_optimizers.py"), *arguments],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_cli_writes_json_figure_and_table(tmp_path):
    result = _cli("mnist_conv_autoencoder", "--optimizers", "adam:alpha=1e-2", "sgd", "--seeds", "1",
                  "--sweeps", "2", "--train-size", "64", "--validation-size", "32", "--hessian-batch-size", "16",
                  "--validations", "2", "--no-progress", "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "out")) == ["comparison.json", "comparison.md", "comparison.png", "loggers"]
    assert "| adam (alpha=0.01) |" in result.stdout


def test_cli_refuses_unknown_names_before_writing(tmp_path):
    result = _cli("mnist_vae", "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2 and "choose one of mnist_autoencoder" in result.stderr
    result = _cli("mnist_autoencoder", "--optimizers", "lbfgsx", "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2 and "Unknown optimizer 'lbfgsx'" in result.stderr
    assert not os.path.exists(tmp_path / "out")


def test_optimizer_parameters_are_split_from_the_model_settings():
    settings, parameters = split_settings("kfac", {"alpha": 1.0, "inverse_frequency": 20})
    assert settings == {"alpha": 1.0} and parameters == {"inverse_frequency": 20}
    with pytest.raises(KeyError, match="neither model settings nor parameters of 'adam'"):
        split_settings("adam", {"inverse_frequency": 20})
