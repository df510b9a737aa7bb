"""Checkpoints, resume, interrupts (issue 18): a resumed fit equals the uninterrupted one.

Each resume test fits a case of ``tests/checkpoint_cases.py`` for 2 sweeps in this
process (the reference), runs the same fit in a subprocess that is killed (or
interrupted) on the way, resumes here in the subprocess's folder and compares
the logger (all but the timings), the final weights and the printed table
bitwise.
"""
import os
import pickle
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

import checkpoint_cases as cases
from hessianlearn.data.data import Data
from hessianlearn.model.checkpoint import (CHECKPOINT_FOLDER, checkpoint_paths, read_checkpoint,
                                          write_checkpoint)
from hessianlearn.model.logger import load_logger
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.model.settings import HessianlearnModelSettings
from hessianlearn.problem.regularization import L2Regularization

SCRIPT = cases.__file__
TIMINGS = ("time", "total_time")
FOLDER = os.path.join("ck_logging", CHECKPOINT_FOLDER)


def _differences(a, b, path="logger"):
    """Paths where two nested logger values differ (bitwise; NaN equals NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(map(str, set(a) ^ set(b)))}"]
        return [d for key in a for d in _differences(a[key], b[key], f"{path}[{key!r}]")]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        same = a.shape == b.shape and a.dtype == b.dtype \
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        return [] if same else [path]
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return []
    return [] if type(a) is type(b) and a == b else [f"{path}: {a!r} != {b!r}"]


def _outcome(model, logger, table):
    return {"logger": {k: v for k, v in logger.items() if k not in TIMINGS},
            "weights": model.problem.get_weights(model.sess),
            "keras_weights": model.problem.NN.get_weights(), "table": table}


def _assert_same(result, reference):
    assert not _differences(result["logger"], reference["logger"]), \
        _differences(result["logger"], reference["logger"])[:5]
    assert np.array_equal(result["weights"], reference["weights"])
    assert all(np.array_equal(a, b) for a, b in zip(result["keras_weights"], reference["keras_weights"]))
    assert result["table"] == reference["table"]


_REFERENCES = {}


def _reference(case, folder, capsys):
    """The uninterrupted 2-sweep fit of ``case`` (with its checkpoints) in ``folder``; cached."""
    if case not in _REFERENCES:
        _REFERENCES[case] = _finished_run(case, folder, capsys)[0]
    return _REFERENCES[case]


def _child(mode, case, folder):
    folder.mkdir()
    result = folder / "result.pkl"
    process = subprocess.run([sys.executable, SCRIPT, mode, case, str(result)], cwd=folder,
                             capture_output=True, text=True, timeout=600)
    return process, result


def _resume(case, folder, capsys, **overrides):
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        capsys.readouterr()
        model = cases.build(case, **overrides)
        logger = model.fit(resume=True)
        return _outcome(model, logger, capsys.readouterr().out)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("case", sorted(cases.CASES))
def test_resume_after_sigkill_equals_the_uninterrupted_fit(case, tmp_path, capsys):
    reference = _reference(case, tmp_path / "reference", capsys)
    process, _ = _child("kill", case, tmp_path / "run")
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]
    saved = checkpoint_paths(str(tmp_path / "run" / FOLDER), _run_name(tmp_path / "run"))
    assert len(saved) == 2  # checkpoints at 0.5 and 1 sweeps; the kill came after 1.2
    state = read_checkpoint(saved[-1])
    assert 1.0 <= state["loop"]["sweeps"] < cases.KILL_AT
    assert state["loop"]["iteration"] < len(reference["logger"]["sweeps"])
    _assert_same(_resume(case, tmp_path / "run", capsys), reference)


def _run_name(folder):
    """The run name of the single run whose checkpoints are in ``folder``."""
    names = {p.rsplit(".", 2)[0] for p in os.listdir(folder / FOLDER)
             if p.endswith(".ckpt") and not p.startswith(".tmp-")}
    assert len(names) == 1, names
    return names.pop()


def test_kill_during_a_checkpoint_write_leaves_the_previous_one_readable(tmp_path, capsys):
    reference = _reference("lrsfn", tmp_path / "reference", capsys)
    process, _ = _child("kill_in_write", "lrsfn", tmp_path / "run")
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]
    folder = tmp_path / "run" / FOLDER
    files = sorted(os.listdir(folder))
    assert len([f for f in files if f.startswith(".tmp-")]) == 1  # the half-written one
    saved = checkpoint_paths(str(folder), _run_name(tmp_path / "run"))
    assert len(saved) == 1
    assert read_checkpoint(saved[0])["loop"]["sweeps"] >= 0.5
    loggers = [f for f in os.listdir(tmp_path / "run" / "ck_logging") if f.endswith(".pkl")]
    assert load_logger(str(tmp_path / "run" / "ck_logging" / loggers[0]))["status"] == "running"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the temporary file is not a checkpoint: no warning
        result = _resume("lrsfn", tmp_path / "run", capsys)
    _assert_same(result, reference)
    assert not [f for f in os.listdir(folder) if f.startswith(".tmp-")]  # cleaned by the next write


def test_sigint_ends_the_fit_at_a_step_boundary_and_resumes(tmp_path, capsys):
    reference = _reference("adam", tmp_path / "reference", capsys)
    process, result_path = _child("sigint", "adam", tmp_path / "run")
    assert process.returncode == 0, process.stderr[-2000:]
    with open(result_path, "rb") as file:
        result = pickle.load(file)
    assert result["raised"] is not None and "interrupted" in result["raised"]
    logger = result["logger"]
    assert logger["status"] == "interrupted"
    steps = len(logger["sweeps"])
    assert logger["sweeps"][steps - 1] >= cases.KILL_AT > logger["sweeps"][steps - 2]
    # the best weights are restored into the session and the Keras model
    assert np.array_equal(result["session_weights"], logger["best_weights"])
    flat = np.concatenate([w.ravel() for w in result["keras_weights"]])
    assert np.array_equal(flat, logger["best_weights"])
    on_disk = [f for f in os.listdir(tmp_path / "run" / "ck_logging") if f.endswith(".pkl")]
    assert load_logger(str(tmp_path / "run" / "ck_logging" / on_disk[0]))["status"] == "interrupted"
    saved = checkpoint_paths(str(tmp_path / "run" / FOLDER), _run_name(tmp_path / "run"))
    state = read_checkpoint(saved[-1])
    assert state["loop"]["iteration"] == steps - 1  # after the interrupted step (keys 0..n of n steps)
    ignored = TIMINGS + ("status", "stop_reason")
    assert not _differences({k: v for k, v in state["logger"].items() if k not in ignored},
                            {k: v for k, v in logger.items() if k not in ignored})
    _assert_same(_resume("adam", tmp_path / "run", capsys), reference)


def _finished_run(case, folder, capsys):
    """Fit ``case`` to the end in ``folder`` (leaving its last two checkpoints); its outcome."""
    folder.mkdir()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        capsys.readouterr()
        model = cases.build(case)
        logger = model.fit()
        outcome = _outcome(model, logger, capsys.readouterr().out)
        model.close()
    finally:
        os.chdir(cwd)
    return outcome, checkpoint_paths(str(folder / FOLDER), _run_name(folder))


def test_truncated_and_corrupted_checkpoints_are_skipped_with_a_warning(tmp_path, capsys):
    reference, saved = _finished_run("incg", tmp_path / "run", capsys)
    assert len(saved) == 2
    with open(saved[-1], "r+b") as file:  # truncate the newest
        file.truncate(os.path.getsize(saved[-1]) // 3)
    with pytest.warns(RuntimeWarning, match=os.path.basename(saved[-1])):
        result = _resume("incg", tmp_path / "run", capsys)
    _assert_same(result, reference)  # from the older checkpoint, to the same end

    for path in checkpoint_paths(str(tmp_path / "run" / FOLDER), _run_name(tmp_path / "run")):
        with open(path, "r+b") as file:  # flip one byte of the payload, same length
            file.seek(-10, os.SEEK_END)
            byte = file.read(1)
            file.seek(-10, os.SEEK_END)
            file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.warns(RuntimeWarning, match="checksum"):
        with pytest.raises(FileNotFoundError, match=str(tmp_path / "run" / FOLDER)):
            _resume("incg", tmp_path / "run", capsys)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, capsys):
    _finished_run("incg", tmp_path / "run", capsys)
    with pytest.raises(ValueError, match=r"settings\['seed'\]: checkpoint 0, now 5"):
        _resume("incg", tmp_path / "run", capsys, seed=5)
    with pytest.raises(ValueError, match="train_data_size: checkpoint 320, now 220"):
        cwd = os.getcwd()
        os.chdir(tmp_path / "run")
        try:
            cases.build("incg", samples=300).fit(resume=True)
        finally:
            os.chdir(cwd)


def test_resume_without_a_checkpoint_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = cases.build("adam", verbose=False)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / FOLDER)):
        model.fit(resume=True)
    with pytest.raises(ValueError, match="w_0"):
        model.fit(w_0=np.zeros(model.problem.dimension), resume=True)
    with pytest.raises(TypeError, match="resume"):
        model.fit(resume="yes")


def test_a_new_fit_removes_the_runs_old_checkpoints(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = cases.build("adam", verbose=False, max_sweeps=1.0)
    model.fit()
    first = checkpoint_paths(FOLDER, _run_name(tmp_path))
    assert [os.path.basename(p)[-14:] for p in first] == ["000000008.ckpt"]
    stale = first[0].replace("000000008", "000000099")
    os.replace(first[0], stale)  # a later checkpoint of an older run
    model.fit()
    assert checkpoint_paths(FOLDER, _run_name(tmp_path)) == first


def test_checkpoint_files_keep_the_newest_two(tmp_path):
    for iteration in (3, 10, 7, 12):
        write_checkpoint({"i": iteration}, str(tmp_path), "run", iteration)
    paths = checkpoint_paths(str(tmp_path), "run")
    assert [read_checkpoint(p)["i"] for p in paths] == [10, 12]
    (tmp_path / "other.000000001.ckpt").write_bytes(b"not mine")
    assert checkpoint_paths(str(tmp_path), "run") == paths
    with pytest.raises(ValueError, match="not a hessianlearn checkpoint"):
        read_checkpoint(str(tmp_path / "other.000000001.ckpt"))


@pytest.mark.parametrize("value", [0, -1.0, True, "1", float("inf")])
def test_checkpoint_frequency_is_validated(value):
    with pytest.raises(ValueError, match="checkpoint_frequency"):
        HessianlearnModelSettings({"checkpoint_frequency": value})


# ---------------------------------------------------------------------------- optimizer state
def test_optimizer_state_round_trips_and_refuses_another_class(tmp_path, monkeypatch):
    from hessianlearn.algorithms.adam import Adam
    from hessianlearn.algorithms.inexact_newton_cg import InexactNewtonCG

    monkeypatch.chdir(tmp_path)
    model = cases.build("incg", verbose=False, max_sweeps=0.5, checkpoint_frequency=None)
    model.fit()
    optimizer = model.optimizer
    state = optimizer.state_dict()
    assert state["class"] == "InexactNewtonCG"
    assert state["trust_region.radius"] == optimizer.trust_region.radius
    fresh = InexactNewtonCG(model.problem, model.regularization, model.sess, optimizer.parameters)
    fresh.load_state_dict(state)
    assert fresh.iter == optimizer.iter and np.array_equal(fresh.sweeps, optimizer.sweeps)
    assert fresh.rng.random() == optimizer.rng.random()
    assert fresh.solver._previous_eta == optimizer.solver._previous_eta
    state["iter"] = -7
    assert optimizer.iter != -7  # a deep copy
    with pytest.raises(ValueError, match="InexactNewtonCG"):
        Adam(model.problem, model.regularization, model.sess).load_state_dict(state)
    with pytest.raises(TypeError, match="state"):
        fresh.load_state_dict([1, 2])


def test_fused_adam_moments_are_saved_from_the_graph(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = cases.build("adam_fused", verbose=False, max_sweeps=0.25, checkpoint_frequency=None)
    model.fit()
    optimizer = model.optimizer
    assert optimizer._fused is not None
    state = optimizer.state_dict()
    assert state["m"].shape == (model.problem.dimension,) and np.any(state["m"] != 0)
    np.testing.assert_array_equal(state["v"], model.sess.run(optimizer._fused.v))


# ---------------------------------------------------------------------------- item 4: state traps
def test_regularization_gamma_is_read_only(float64):
    model = cases.build("adam", verbose=False)
    regularization = model.regularization
    with pytest.raises(AttributeError, match="read-only"):
        regularization.gamma = 0.5
    with pytest.raises(AttributeError, match="read-only"):
        regularization.parameters["gamma"] = 0.5
    with pytest.raises(AttributeError, match="read-only"):
        regularization.parameters.update({"gamma": 0.5})
    assert regularization.gamma == 1e-3 and regularization.parameters["gamma"] == 1e-3
    assert isinstance(L2Regularization(model.problem, 0.0).gamma, float)


def test_gan_fit_keeps_the_last_validated_weights_and_says_so(float64, capsys):
    from cases import make_case

    case = make_case("gan_cross_entropy")
    problem = case.problem
    rng = np.random.default_rng(5)
    x_shape = case.feed_dict[problem.x].shape[1:]
    data = Data({problem.x: rng.standard_normal((120,) + x_shape),
                 problem.noise: rng.standard_normal((120, 2))}, 10, validation_data_size=40, seed=1)
    model = HessianlearnModel(problem, None, data, settings={
        "optimizer": "adam", "alpha": 1e-2, "max_sweeps": 1.0, "validate_frequency": 0.25,
        "save_logger": False})
    logger = model.fit()
    assert "GAN: best weights = last validation" in capsys.readouterr().out
    last = max(logger["val_loss"])
    assert logger["best_iteration"] == last
    # the accuracy criterion would have chosen another validation in this run
    assert max(logger["val_acc"], key=logger["val_acc"].get) != last
    np.testing.assert_array_equal(logger["best_weights"], problem.get_weights(model.sess))


def test_keras_wrapper_resumes_from_its_checkpoint(float64, tmp_path, monkeypatch):
    from hessianlearn import keras
    from hessianlearn.model.keras_model_wrapper import KerasModelWrapper

    monkeypatch.chdir(tmp_path)
    x_in = keras.Input((3,))
    network = keras.Model(x_in, keras.layers.Dense(2)(keras.layers.Dense(4, activation="tanh")(x_in)))
    network.compile(loss="mse")
    wrapper = KerasModelWrapper(network, regularization=1e-3, optimizer="lrsfn", settings={
        "verbose": False, "max_sweeps": 1.0, "checkpoint_frequency": 0.25, "hessian_low_rank": 2,
        "alpha": 1e-2, "problem_name": "ck"})
    rng = np.random.default_rng(2)
    x = rng.standard_normal((100, 3))
    data = Data({wrapper.problem.x: x, wrapper.problem.y_true: np.tanh(x[:, :2])}, 10,
                validation_data_size=20, hessian_batch_size=5)
    logger = wrapper.fit(data)
    weights = network.get_weights()
    saved = checkpoint_paths(FOLDER, _run_name(tmp_path))
    assert read_checkpoint(saved[-1])["loop"]["sweeps"] < 1.0  # the resumed fit has steps to take
    resumed = wrapper.fit(data, resume=True)
    assert not _differences({k: v for k, v in resumed.items() if k not in TIMINGS},
                            {k: v for k, v in logger.items() if k not in TIMINGS})
    assert all(np.array_equal(a, b) for a, b in zip(network.get_weights(), weights))


def test_an_interrupt_inside_a_step_writes_no_checkpoint(tmp_path, monkeypatch):
    """KeyboardInterrupt raised mid-step (a second Ctrl-C): logger saved, no inconsistent checkpoint."""
    monkeypatch.chdir(tmp_path)
    model = cases.build("adam", verbose=False)
    original = HessianlearnModel._log_state

    def log_iteration(self, logger, optimizer, i, *args):
        original(self, logger, optimizer, i, *args)
        if i == 11:
            raise KeyboardInterrupt

    monkeypatch.setattr(HessianlearnModel, "_log_state", log_iteration)
    with pytest.raises(KeyboardInterrupt, match="during a step"):
        model.fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    logger = model.logger
    assert logger["status"] == "interrupted" and len(logger["sweeps"]) == 12
    saved = checkpoint_paths(FOLDER, _run_name(tmp_path))
    assert [read_checkpoint(p)["loop"]["iteration"] for p in saved] == [8]  # the periodic one only
    np.testing.assert_array_equal(model.problem.get_weights(model.sess), logger["best_weights"])
    on_disk = [f for f in os.listdir("ck_logging") if f.endswith(".pkl")]
    assert load_logger(os.path.join("ck_logging", on_disk[0]))["status"] == "interrupted"
