"""README.md's python blocks run as written, and the original README's usage trains.

The README's blocks run in order, in one fresh interpreter started in a temporary
folder (the fit writes ``problem_logging/`` there), with ``HESSIANLEARN_PATH`` unset
and this checkout first on ``PYTHONPATH``.  To keep the run cheap, ``SHRINK`` edits
the code in two visible places (a slice of MNIST, fewer sweeps); each edit must
match exactly once, so a README change that moves them fails here loudly.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hessianlearn import (Data, HessianlearnModel, HessianlearnModelSettings, L2Regularization,
                         RegressionProblem, tf)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: (text in README's python code, replacement): 320 training and 100 validation images,
#: 4 sweeps (two LRSFN iterations of (32 + 2 * 40 * 8) / 320 sweeps each).
SHRINK = [
    ("(x_train, _), (x_test, _) = load_mnist()\n",
     "(x_train, _), (x_test, _) = load_mnist()\nx_train, x_test = x_train[:320], x_test[:100]\n"),
    ("'max_sweeps': 50", "'max_sweeps': 4"),
]

#: Appended after the README's code: facts about what it built, printed as JSON.
REPORT = """
import json as _json, hessianlearn as _hl
print("README-FACTS " + _json.dumps({
    "module": _hl.__file__,
    "x_train": list(x_train.shape), "x_max": float(x_train.max()),
    "val_loss": [float(v) for v in HLModel.logger["val_loss"].values()],
    "Hv_shape": list(np.shape(Hv)), "Hv_error": float(np.linalg.norm(Hp(v) - Hv)
                                                      / np.linalg.norm(Hv))}))
"""


def python_blocks(text):
    """The contents of the ```python fenced blocks of a markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_python_blocks_are_found():
    blocks = python_blocks(README.read_text())
    # the Usage block, then the operator block that uses what it trained (later blocks,
    # e.g. on checkpoints, continue the same session of code)
    usage = [i for i, b in enumerate(blocks) if "load_mnist()" in b and "HLModel.fit()" in b]
    operators = [i for i, b in enumerate(blocks) if "Hessian(problem, sess, regularization)" in b]
    assert len(usage) == 1 and len(operators) == 1 and usage[0] < operators[0], (usage, operators)
    assert python_blocks("text\n```python\na = 1\n```\n```bash\nls\n```\n") == ["a = 1\n"]


@pytest.mark.slow
def test_readme_python_blocks_run_as_written(tmp_path):
    code = "\n".join(python_blocks(README.read_text()))
    for old, new in SHRINK:
        assert code.count(old) == 1, f"README's python code no longer contains {old!r} once"
        code = code.replace(old, new)
    script = tmp_path / "readme_blocks.py"
    script.write_text(code + REPORT)
    env = {k: v for k, v in os.environ.items() if k != "HESSIANLEARN_PATH"}
    env.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    facts = json.loads(run.stdout.split("README-FACTS ", 1)[1].splitlines()[0])
    assert Path(facts["module"]).resolve() == ROOT / "hessianlearn" / "__init__.py"
    assert facts["x_train"] == [320, 784] and 0.9 < facts["x_max"] <= 1.0
    assert facts["val_loss"] and all(np.isfinite(facts["val_loss"]))
    dimension = 784 * 32 + 32 + 32 * 784 + 784             # the 784-32-784 autoencoder
    assert facts["Hv_shape"] == [dimension] and facts["Hv_error"] < 1e-4
    assert (tmp_path / "problem_logging").is_dir()


# ---------------------------------------------------------------------------
# The original README's usage: RegressionProblem, Data without a Hessian batch,
# every setting at its default, HessianlearnModel(problem, regularization, data).fit()
# ---------------------------------------------------------------------------
def regression_data(n=1000, seed=0):
    """``y = tanh(x A / 2)``: 4 inputs, 2 outputs, standard normal ``x``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = np.tanh(x @ rng.standard_normal((4, 2)) / 2).astype(np.float32)
    return x, y


def _seed_readme_fit(hessian_batch_size, settings=None):
    """The original README's lines (with its Data line's typo mended), on a small regression."""
    x_data, y_data = regression_data()
    inputs = tf.keras.Input(shape=(4,))
    hidden = tf.keras.layers.Dense(16, activation="softplus")(inputs)
    neural_network = tf.keras.models.Model(inputs, tf.keras.layers.Dense(2)(hidden))

    problem = RegressionProblem(neural_network, dtype=tf.float32)
    data = Data({problem.x: x_data, problem.y_true: y_data}, 32, validation_data_size=200,
                hessian_batch_size=hessian_batch_size)
    regularization = L2Regularization(problem, gamma=0)
    if settings is None:
        HLModel = HessianlearnModel(problem, regularization, data)
    else:
        HLModel = HessianlearnModel(problem, regularization, data,
                                    settings=HessianlearnModelSettings(settings))
    logger = HLModel.fit()
    assert HLModel.settings["optimizer"] == "lrsfn"
    assert (data.hess_train is None) == (hessian_batch_size < 0)
    return HLModel, logger, data, problem


def test_original_readme_usage_runs_with_the_originals_defaults(tmp_path, monkeypatch):
    """Every setting at its default: the original's LRSFN step 5e-2 (README says it may diverge
    on a small network); the run ends cleanly and keeps weights no worse than the start."""
    monkeypatch.chdir(tmp_path)                   # the default save_logger writes here
    HLModel, logger, _, _ = _seed_readme_fit(-1)
    assert HLModel.optimizer.parameters["alpha"] == 5e-2 and HLModel.settings["alpha"] is None
    assert HLModel.settings["max_sweeps"] == 10.0 and HLModel.settings["hessian_low_rank"] == 20
    assert logger["status"] in ("max_sweeps", "non_finite")
    best = logger["best_iteration"]
    assert np.isfinite(logger["val_loss"][best]) and logger["val_loss"][best] <= logger["val_loss"][0]


@pytest.mark.parametrize("hessian_batch_size, most", [(-1, 0.5), (8, 0.2)])
def test_original_readme_usage_trains_with_readmes_first_run_setting(tmp_path, monkeypatch,
                                                                     hessian_batch_size, most):
    """As README advises a first run: the unit-step line search, with and without a Hessian batch."""
    monkeypatch.chdir(tmp_path)
    HLModel, logger, data, problem = _seed_readme_fit(hessian_batch_size,
                                                      {"globalization": "line_search"})
    assert logger["status"] == "max_sweeps"
    assert logger["sweeps"][max(logger["sweeps"])] >= HLModel.settings["max_sweeps"]
    initial = logger["val_loss"][0]               # before the first step
    final = logger["val_loss"][max(logger["val_loss"])]
    targets = data.validation[problem.y_true]
    variance = float(np.mean((targets - targets.mean(axis=0)) ** 2))
    # falls clearly: to at most `most` of its start, and below predicting the targets' mean
    assert final < most * initial and final < variance, (initial, final, variance)
