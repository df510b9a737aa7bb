"""settings['progress_bar']: a tqdm bar over sweeps during fit when the printed table is off."""
import sys

import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn.data.data import Data
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.model.printer import ProgressBar
from hessianlearn.problem.autoencoder_problem import AutoencoderProblem
from hessianlearn.problem.regularization import L2Regularization


def _fit(settings):
    """A 6-3-6 autoencoder trained with Adam for 2 sweeps (N = 80, batch 20: 8 iterations)."""
    tf.set_random_seed(0)
    x_in = keras.Input((6,))
    network = keras.Model(x_in, keras.layers.Dense(6)(keras.layers.Dense(3, activation="tanh")(x_in)))
    problem = AutoencoderProblem(network)
    x = np.random.default_rng(0).standard_normal((100, 6))
    data = Data({problem.x: x}, 20, validation_data_size=20)
    base = {"optimizer": "adam", "max_sweeps": 2.0, "save_logger": False}
    base.update(settings)
    model = HessianlearnModel(problem, L2Regularization(problem, 0.0), data, settings=base)
    logger = model.fit()
    model.close()
    return logger


def test_bar_drawn_over_sweeps_when_table_off(capsys):
    logger = _fit({"verbose": False, "progress_bar": True})
    out, err = capsys.readouterr()
    assert out == ""  # no table
    assert "adam" in err and "2.00/2.00 sweeps" in err and "100%" in err
    assert max(logger["sweeps"].values()) == pytest.approx(2.0)


def test_no_bar_when_table_on_or_setting_off(capsys):
    _fit({"verbose": True, "progress_bar": True})
    out, err = capsys.readouterr()
    assert "Loss_val" in out and "sweeps" not in err
    _fit({"verbose": False, "progress_bar": False})
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_missing_tqdm_warns_and_training_goes_on(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import of tqdm.auto raises ImportError
    with pytest.warns(RuntimeWarning, match="pip install tqdm"):
        logger = _fit({"verbose": False, "progress_bar": True})
    assert logger["status"] == "max_sweeps"


def test_progress_bar_caps_at_total_and_closes_twice(capsys):
    bar = ProgressBar(1.0, description="x")
    bar.update(0.5, {"train_loss": {0: 0.25}})
    bar.update(1.3)
    assert bar._bar.n == 1.0
    bar.close()
    bar.close()
    assert not bar.enabled
    assert "1.00/1.00 sweeps" in capsys.readouterr().err
