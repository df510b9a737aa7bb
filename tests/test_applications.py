"""Smoke tests of the MNIST applications: tiny slices in a subprocess, files written, bad arguments refused.

Each application runs with the test's Python (the project's virtualenv) on a few
hundred images for a fraction of a sweep; the test checks the exit status and that
the logs and figures exist. Bad arguments must end with a non-zero exit status and
leave the output folder untouched (not even created).
"""
import json
import os
import subprocess
import sys

import pytest

APPLICATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "applications", "mnist")


TINY = ["--train-size", "240", "--validation-size", "60", "--batch-size", "16", "--hessian-batch-size", "4",
        "--rank", "4", "--threads", "1"]


def run(script, *arguments, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, os.path.join(APPLICATIONS, script), *arguments], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def check_ok(result, output, files):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for name in files:
        path = os.path.join(output, name)
        assert os.path.isfile(path) and os.path.getsize(path) > 0, f"{name} missing; have {os.listdir(output)}"


@pytest.mark.parametrize("script", ["mnist_autoencoder.py", "mnist_vae.py", "mnist_classification.py",
                                    "mnist_gan.py"])
def test_help(script, tmp_path):
    result = run(script, "--help", cwd=tmp_path)
    assert result.returncode == 0 and "--output" in result.stdout and "--train-size" in result.stdout
    assert os.listdir(tmp_path) == []


def test_autoencoder_smoke(tmp_path):
    output = tmp_path / "out"
    result = run("mnist_autoencoder.py", "--optimizers", "lrsfn", "adam", "--sweeps", "0.3", *TINY,
                 "--output", str(output), cwd=tmp_path)
    check_ok(result, output, ["validation_loss.png", "reconstructions_lrsfn.png", "reconstructions_adam.png",
                              "summary.json"])
    summary = json.loads((output / "summary.json").read_text())
    assert set(summary) == {"lrsfn", "adam"}
    assert all(0 < s["val_loss"] < 0.3 and s["sweeps"] >= 0.3 for s in summary.values())
    assert "sweeps" in result.stdout and "Loss_val" in result.stdout  # the per-sweep table
    # --rank reaches LRSFN only: no optimizer is handed a setting it ignores
    assert "is not used by optimizer" not in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("script, arguments", [
    ("mnist_autoencoder.py", ["--optimizers", "lrsfn", "adam"]),
    ("mnist_vae.py", ["--optimizer", "lrsfn", "--hidden", "32"]),
])
def test_fast_path_smoke(script, arguments, tmp_path):
    """--fast: fused Adam and LRSFN steps with Rademacher test matrices, same outputs."""
    output = tmp_path / "out"
    result = run(script, *arguments, "--sweeps", "0.3", *TINY, "--fast", "--quiet", "--output", str(output),
                 cwd=tmp_path)
    check_ok(result, output, ["summary.json"])
    summary = json.loads((output / "summary.json").read_text())
    assert all(s["sweeps"] >= 0.3 and 0 < s["val_loss"] < float("inf") for s in summary.values())


def test_classification_smoke(tmp_path):
    output = tmp_path / "out"
    result = run("mnist_classification.py", "--optimizers", "lrsfn", "adam", "sgd", "--sweeps", "0.2", *TINY,
                 "--hidden", "16", "--quiet", "--output", str(output), cwd=tmp_path)
    check_ok(result, output, ["validation_accuracy.png", "validation_loss.png", "summary.json"])
    summary = json.loads((output / "summary.json").read_text())
    assert set(summary) == {"lrsfn", "adam", "sgd"}
    assert all(0.0 <= s["val_acc"] <= 1.0 for s in summary.values())
    assert "Loss_val" not in result.stdout  # --quiet: a progress bar instead of the table
    assert "sweeps" in result.stderr


def test_vae_smoke(tmp_path):
    output = tmp_path / "out"
    result = run("mnist_vae.py", "--optimizer", "lrsfn", "--sweeps", "0.2", *TINY, "--hidden", "32",
                 "--output", str(output), cwd=tmp_path)
    check_ok(result, output, ["latent_space.png", "generated_digits.png", "reconstructions.png", "loss.png",
                              "summary.json"])
    assert os.path.isdir(output / "mnist_vae_lrsfn_logging")


def test_gan_smoke(tmp_path):
    output = tmp_path / "out"
    result = run("mnist_gan.py", "--sweeps", "0.3", *TINY, "--hidden", "16", "--noise-dimension", "8",
                 "--output", str(output), cwd=tmp_path)
    check_ok(result, output, ["samples.png", "loss.png", "summary.json"])
    summary = json.loads((output / "summary.json").read_text())["adam"]
    assert 0.0 <= summary["discriminator_accuracy"] <= 1.0


BAD_ARGUMENTS = [
    ("mnist_autoencoder.py", ["--sweeps", "0"], "--sweeps"),
    ("mnist_autoencoder.py", ["--optimizers", "newton"], "--optimizers"),
    ("mnist_autoencoder.py", ["--alpha", "lrsfn=-1"], "--alpha"),
    ("mnist_vae.py", ["--latent-dimension", "0"], "--latent-dimension"),
    ("mnist_vae.py", ["--loss-type", "hinge"], "--loss-type"),
    ("mnist_classification.py", ["--batch-size", "x"], "--batch-size"),
    ("mnist_classification.py", ["--alpha", "adam"], "--alpha"),
    ("mnist_gan.py", ["--seed", "-3"], "--seed"),
    ("mnist_gan.py", ["--rank", "0"], "--rank"),
    ("mnist_autoencoder.py", ["--fast", "--mpi"], "--fast"),
    ("mnist_autoencoder.py", ["--fast", "--reference"], "--reference"),
]


@pytest.mark.parametrize("script,arguments,named", BAD_ARGUMENTS)
def test_bad_argument_exits_nonzero_and_writes_nothing(script, arguments, named, tmp_path):
    output = tmp_path / "out"
    result = run(script, *arguments, "--output", str(output), cwd=tmp_path)
    assert result.returncode == 2
    assert named in result.stderr and "error" in result.stderr
    assert not output.exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("script", ["mnist_autoencoder.py", "mnist_vae.py", "mnist_classification.py",
                                    "mnist_gan.py"])
def test_batch_larger_than_slice_is_refused_before_output(script, tmp_path):
    output = tmp_path / "out"
    result = run(script, "--train-size", "10", "--batch-size", "32", "--output", str(output), cwd=tmp_path)
    assert result.returncode == 2
    assert "--batch-size 32 is larger than the training set (10 images)" in result.stderr
    assert not output.exists()


@pytest.mark.parametrize("script", ["mnist_autoencoder.py", "mnist_gan.py"])
def test_output_that_is_a_file_is_refused_and_kept(script, tmp_path):
    output = tmp_path / "results"
    output.write_text("keep me")
    result = run(script, "--output", str(output), cwd=tmp_path)
    assert result.returncode == 2 and "not a folder" in result.stderr
    assert output.read_text() == "keep me"


def test_missing_mnist_path_is_refused_before_output(tmp_path):
    output = tmp_path / "out"
    result = run("mnist_classification.py", "--mnist-path", str(tmp_path / "nowhere.npz"), "--output", str(output),
                 cwd=tmp_path)
    assert result.returncode == 2 and "nowhere.npz" in result.stderr
    assert not output.exists()
