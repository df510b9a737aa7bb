"""Shared helpers of the tutorial-notebook tests (``from tutorial_cases import ...``).

A notebook is read into memory and executed there with nbclient; the stored file,
which holds the outputs of a full run, is never written.
"""
import hashlib
import os

__all__ = ["TUTORIAL_FOLDER", "digest", "outputs", "error_outputs", "image_outputs",
           "stream_text", "execute_on_small_slice"]

TUTORIAL_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tutorial")



def digest(path):
    """SHA-256 of the file at ``path``."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def outputs(notebook):
    """Every output of every code cell, in order."""
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def error_outputs(notebook):
    return [output for output in outputs(notebook) if output.get("output_type") == "error"]


def image_outputs(notebook):
    return [output for output in outputs(notebook) if "image/png" in output.get("data", {})]


def stream_text(notebook, name=None):
    """The text of the stream outputs joined; only the stream ``name`` (e.g. ``'stdout'``) if given."""
    return "".join(output.get("text", "") for output in outputs(notebook)
                   if output.get("output_type") == "stream" and (name is None or output.get("name") == name))


def execute_on_small_slice(path, environment, tmp_path, monkeypatch):
    """Execute the notebook at ``path`` in memory with ``environment`` set; return the executed notebook.

    The kernel runs in ``tmp_path``. Raises nbclient's ``CellExecutionError`` on the first
    failing cell; asserts that the stored notebook is unchanged and that nothing was written
    to ``tmp_path``.
    """
    import nbclient
    import nbformat

    for key, value in {**environment, "TF_CPP_MIN_LOG_LEVEL": "3"}.items():
        monkeypatch.setenv(key, value)
    before = digest(path)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert digest(path) == before  # the stored notebook is untouched
    assert os.listdir(tmp_path) == []  # save_logger is off: the tutorial writes no files
    return notebook
