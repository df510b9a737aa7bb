"""Devices: importing hessianlearn leaves the device environment alone; the ``device`` setting pins."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hessianlearn import tf
from hessianlearn.model.device import available_devices, check_device, device_config
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.model.settings import HessianlearnModelSettings
from hessianlearn.problem.regularization import L2Regularization
from test_model import QUIET, autoencoder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEVICE_VARIABLES = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
                    "CUDA_DEVICE_ORDER", "TF_FORCE_GPU_ALLOW_GROWTH", "TF_GPU_ALLOCATOR")


def _environment_after_import(env):
    code = textwrap.dedent(f"""
        import json, os
        import hessianlearn
        print(json.dumps({{k: os.environ.get(k) for k in {DEVICE_VARIABLES!r}}}))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_import_leaves_device_variables_unset():
    env = {k: v for k, v in os.environ.items() if k not in DEVICE_VARIABLES}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    assert _environment_after_import(env) == {k: None for k in DEVICE_VARIABLES}


@pytest.mark.slow
def test_import_leaves_device_variables_as_set():
    values = {"CUDA_VISIBLE_DEVICES": "1,0", "HIP_VISIBLE_DEVICES": "", "ROCR_VISIBLE_DEVICES": "0",
              "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "TF_FORCE_GPU_ALLOW_GROWTH": "true",
              "TF_GPU_ALLOCATOR": "cuda_malloc_async"}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **values)
    assert _environment_after_import(env) == values


def test_available_devices_match_tensorflow():
    devices = available_devices()
    assert "/cpu:0" in devices
    gpus = tf.config.experimental.list_physical_devices("GPU")
    assert [d for d in devices if d.startswith("/gpu:")] == [f"/gpu:{i}" for i in range(len(gpus))]


def test_device_setting_defaults_to_tensorflow_placement():
    assert HessianlearnModelSettings()["device"] is None
    config = tf.ConfigProto()
    assert device_config(config, None) is config
    assert config == tf.ConfigProto()  # untouched


@pytest.mark.parametrize("bad", ["/gpu:7", "/cpu:3", "/tpu:0", "/job:worker/cpu:0", "not a device"])
def test_unknown_device_raises_value_error_listing_available(bad):
    with pytest.raises(ValueError, match="settings\\['device'\\].*/cpu:0"):
        HessianlearnModelSettings({"device": bad})


def test_device_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="settings\\['device'\\] must be None or a device name"):
        check_device(0)


def test_cpu_pin_hides_gpus_from_the_session():
    config = device_config(tf.ConfigProto(), "/cpu:0")
    assert config.device_count["GPU"] == 0
    assert check_device("/device:CPU:0") == "/device:CPU:0"


def test_gpu_pin_makes_that_gpu_the_only_visible_one():
    if not tf.config.experimental.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="no such device; available: /cpu:0"):
            device_config(tf.ConfigProto(), "/gpu:0")
        return
    config = device_config(tf.ConfigProto(), "/gpu:0")
    assert config.gpu_options.visible_device_list == "0"
    assert config.allow_soft_placement


def test_fit_on_pinned_cpu_gives_the_same_numbers_as_default_placement():
    losses, devices = [], []
    for device in (None, "/cpu:0"):
        tf.reset_default_graph()
        problem, data = autoencoder()
        settings = dict(QUIET, optimizer="adam", alpha=1e-2, max_sweeps=2, device=device)
        model = HessianlearnModel(problem, L2Regularization(problem, gamma=1e-3), data, settings=settings)
        model.fit()
        losses.append(np.array(list(model.logger["train_loss"].values())))
        devices.append([d.device_type for d in model.sess.list_devices()])
        model.close()
    assert "GPU" not in devices[1] and len(losses[0]) > 1
    np.testing.assert_array_equal(losses[0], losses[1])
