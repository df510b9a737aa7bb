"""The tutorial notebooks execute without errors (on a small slice, a fraction of a sweep).

The notebook is read into memory and executed there with nbclient; the stored file,
which holds the outputs of a full run, is never written.
"""
import os


from tutorial_cases import (TUTORIAL_FOLDER, error_outputs, execute_on_small_slice, image_outputs,
                            outputs, stream_text)

import nbformat

TUTORIAL = os.path.join(TUTORIAL_FOLDER, "Tutorial 0 MNIST Autoencoder.ipynb")


def test_tutorial_0_executes_on_a_small_slice(tmp_path, monkeypatch):
    notebook = execute_on_small_slice(TUTORIAL, {"HESSIANLEARN_TUTORIAL_SWEEPS": "0.3",
                                                 "HESSIANLEARN_TUTORIAL_TRAIN_SIZE": "2000",
                                                 "HESSIANLEARN_TUTORIAL_VALIDATION_SIZE": "200"},
                                      tmp_path, monkeypatch)
    assert error_outputs(notebook) == []
    text = stream_text(notebook)
    assert "max_sweeps = 0.3, training images = 2000, validation images = 200" in text
    assert "Loss_val" in text and "s per sweep" in text
    assert len(image_outputs(notebook)) == 3  # loss curves, eigenvalues, reconstructions


def test_stored_tutorial_0_is_valid_and_any_outputs_come_from_a_full_run():
    """The stored notebook is valid; if it holds outputs, they are a full run's, without errors."""
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(notebook)
    assert not error_outputs(notebook)
    if outputs(notebook):  # never a CI slice stored by mistake
        text = stream_text(notebook)
        assert "max_sweeps = 50.0, training images = 60000, validation images = 10000" in text
        assert "Loss_val" in text  # the run's printed table is kept
