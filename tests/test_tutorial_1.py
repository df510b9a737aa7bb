"""Tutorial 1 (Hessian spectrum) executes on a small slice; the stored file holds a full run.

The notebook is read into memory and executed there with nbclient; the stored file is never written.
"""
import os

import pytest

from tutorial_cases import (TUTORIAL_FOLDER, error_outputs, execute_on_small_slice, image_outputs,
                            stream_text)

import nbformat

TUTORIAL = os.path.join(TUTORIAL_FOLDER, "Tutorial 1 Hessian Spectrum.ipynb")

SMALL = {"HESSIANLEARN_TUTORIAL_SWEEPS": "0.3", "HESSIANLEARN_TUTORIAL_TRAIN_SIZE": "1000",
         "HESSIANLEARN_TUTORIAL_VALIDATION_SIZE": "200", "HESSIANLEARN_TUTORIAL_SPECTRUM_SIZE": "100",
         "HESSIANLEARN_TUTORIAL_LANCZOS_STEPS": "10", "HESSIANLEARN_TUTORIAL_PROBES": "6",
         "HESSIANLEARN_TUTORIAL_LANCZOS_ITERATIONS": "30"}


def _check_outputs(notebook):
    assert error_outputs(notebook) == []
    text = stream_text(notebook, "stdout")
    for label in ("start", "  end"):
        assert f"{label}      Hessian: top eigenvalues" in text
        assert f"{label} Gauss-Newton: top eigenvalues" in text
    assert "smallest eigenvalues" in text and "curvature recordings" in text
    assert len(image_outputs(notebook)) == 5  # training curves, densities, top eigenvalues, layer traces, recorded
    return text


@pytest.mark.slow  # about a minute on 2 cores
def test_tutorial_1_executes_on_a_small_slice(tmp_path, monkeypatch):
    notebook = execute_on_small_slice(TUTORIAL, SMALL, tmp_path, monkeypatch)
    text = _check_outputs(notebook)
    assert "max_sweeps = 0.3, training images = 1000, validation images = 200, spectrum images = 100" in text


def test_tutorial_1_is_stored_with_a_full_run():
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(notebook)
    text = _check_outputs(notebook)
    assert ("max_sweeps = 10.0, training images = 5000, validation images = 2000, spectrum images = 500, "
            "SLQ steps = 40, trace probes = 20, Lanczos iterations = 150") in text
    assert "Loss_val" in text  # the run's printed table is kept
