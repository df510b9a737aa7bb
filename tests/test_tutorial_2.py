"""Tutorial 2 (optimizer comparison) executes on a small slice; the stored file holds a full run.

The notebook is read into memory and executed there with nbclient; the stored file is never written.
"""
import os

import pytest

from tutorial_cases import (TUTORIAL_FOLDER, error_outputs, execute_on_small_slice, image_outputs,
                            outputs, stream_text)

import nbformat

TUTORIAL = os.path.join(TUTORIAL_FOLDER, "Tutorial 2 Optimizer Comparison.ipynb")
ROOT = os.path.dirname(TUTORIAL_FOLDER)

SMALL = {"HESSIANLEARN_TUTORIAL_SEEDS": "2", "HESSIANLEARN_TUTORIAL_SWEEPS": "0.2",
         "HESSIANLEARN_TUTORIAL_CONV_SWEEPS": "2", "HESSIANLEARN_TUTORIAL_TRAIN_SIZE": "500",
         "HESSIANLEARN_TUTORIAL_CONV_TRAIN_SIZE": "100", "HESSIANLEARN_TUTORIAL_VALIDATION_SIZE": "50",
         "HESSIANLEARN_TUTORIAL_OPTIMIZERS": "lrsfn adam",
         "PYTHONPATH": ROOT}  # the kernel imports this checkout's hessianlearn


def _markdown_outputs(notebook):
    return "".join(output.get("data", {}).get("text/markdown", "") for output in outputs(notebook))


def _check_outputs(notebook, names):
    assert error_outputs(notebook) == []
    text = stream_text(notebook, "stdout")
    tables = _markdown_outputs(notebook)
    for workload in ("mnist_autoencoder", "mnist_conv_autoencoder"):
        assert f"{workload}: lowest median final loss at" in text
        assert tables.count(f"{workload}:") == 1
    for name in names:
        assert tables.count(f"| {name} ") == 2  # one row in each workload's table
    assert len(image_outputs(notebook)) == 2  # one comparison figure per workload
    return text


@pytest.mark.slow  # about a minute and a half on 2 cores
def test_tutorial_2_executes_on_a_small_slice(tmp_path, monkeypatch):
    notebook = execute_on_small_slice(TUTORIAL, SMALL, tmp_path, monkeypatch)
    text = _check_outputs(notebook, ["lrsfn", "adam"])
    assert "dense: max_sweeps = 0.2, training images = 500, validation images = 50, seeds = 2" in text
    assert "8 runs in" not in text and "4 runs in" in text


def test_tutorial_2_is_stored_with_a_full_run():
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(notebook)
    text = _check_outputs(notebook, ["lrsfn", "incg", "adam", "sgd", "adahessian", "sophia", "lbfgs",
                                     "hessian_free", "kfac"])
    assert "seeds = 3" in text and "27 runs in" in text
