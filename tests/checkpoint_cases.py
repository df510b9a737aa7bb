"""Tiny checkpointed fits shared by tests/test_checkpoints.py and its subprocesses.

Run as a script (``python tests/checkpoint_cases.py MODE CASE RESULT``, from the
folder that receives ``ck_logging/``) it fits ``CASE`` and is stopped on purpose:

* ``kill``: SIGKILL after the step that reaches ``KILL_AT`` sweeps;
* ``kill_in_write``: SIGKILL halfway through writing the second checkpoint;
* ``sigint``: SIGINT to itself after the step that reaches ``KILL_AT`` sweeps;
  writes ``{'raised': ..., 'logger': ..., 'keras_weights': ...}`` to ``RESULT``.
"""
import io
import os
import pickle
import signal
import sys

import numpy as np

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hessianlearn import keras, tf  # noqa: E402
from hessianlearn.data.data import Data  # noqa: E402
from hessianlearn.model.model import HessianlearnModel  # noqa: E402
from hessianlearn.problem.autoencoder_problem import AutoencoderProblem  # noqa: E402
from hessianlearn.problem.regularization import L2Regularization  # noqa: E402

#: Sweeps after which the subprocess kills (or interrupts) itself.
KILL_AT = 1.2
#: Settings shared by every case: 2 sweeps, a checkpoint every half sweep.
COMMON = {"max_sweeps": 2.0, "checkpoint_frequency": 0.5, "problem_name": "ck",
          "printing_sweep_frequency": 0.25, "validate_frequency": 0.5, "verbose": True,
          "intra_threads": 1, "inter_threads": 1}
CASES = {
    "adam": {"optimizer": "adam", "alpha": 1e-2},
    "adam_fused": {"optimizer": "adam", "alpha": 1e-2, "fused_step": True},
    "lrsfn": {"optimizer": "lrsfn", "hessian_low_rank": 2, "alpha": 2e-3},
    "lrsfn_fused": {"optimizer": "lrsfn", "hessian_low_rank": 2, "alpha": 2e-3, "fused_step": True},
    "incg": {"optimizer": "incg", "globalization": "trust_region", "alpha": 1.0},
    # the optimizer lab (issue 16), with parameters that make every piece of state matter
    "adahessian": {"optimizer": "adahessian", "alpha": 1e-2},
    "sophia": {"optimizer": "sophia", "alpha": 1e-2},
    "lbfgs": {"optimizer": "lbfgs"},
    "hessian_free": {"optimizer": "hessian_free"},
    "kfac": {"optimizer": "kfac"},
}
#: Optimizer parameter overrides of some cases (``HessianlearnModel.set_optimizer``): Sophia
#: carries its diagonal between refreshes, L-BFGS's memory is full and rotates, HF's CG is
#: short, K-FAC reuses its eigendecompositions and adapts its damping every other step.
PARAMETERS = {
    "sophia": {"hessian_frequency": 3},
    "lbfgs": {"memory": 3},
    "hessian_free": {"cg_max_iter": 3},
    "kfac": {"inverse_frequency": 2, "damping_adaptation_interval": 2},
}


def build(case, samples=400, **overrides):
    """A fresh graph: 5-3-5 autoencoder (dW = 38), ``samples - 80`` training / 80 validation samples."""
    tf.reset_default_graph()
    keras.backend.clear_session()
    keras.backend.set_floatx("float64")
    tf.set_random_seed(0)
    x_in = keras.Input((5,))
    hidden = keras.layers.Dense(3, activation="tanh", name="enc")(x_in)
    network = keras.Model(x_in, keras.layers.Dense(5, name="dec")(hidden))
    problem = AutoencoderProblem(network)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, 2)) @ rng.standard_normal((2, 5)) / 2
    data = Data({problem.x: x}, 20, validation_data_size=80, hessian_batch_size=10, seed=3)
    settings = {**COMMON, **CASES[case], **overrides}
    model = HessianlearnModel(problem, L2Regularization(problem, 1e-3), data, settings=settings)
    if case in PARAMETERS:
        model.set_optimizer(settings["optimizer"], PARAMETERS[case])
    return model


def _stop_after(sweeps, action):
    """Make the fit loop run ``action()`` right after logging the step that reaches ``sweeps``."""
    original = HessianlearnModel._log_state

    def log_state(self, logger, optimizer, i, total, *args):
        original(self, logger, optimizer, i, total, *args)
        if total >= sweeps:
            action()

    HessianlearnModel._log_state = log_state


def _die_in_second_checkpoint():
    from hessianlearn.model import checkpoint

    original = checkpoint.atomic_write
    calls = []

    def atomic_write(path, write):
        calls.append(path)
        if len(calls) < 2:
            return original(path, write)

        def half(file):
            buffer = io.BytesIO()
            write(buffer)
            content = buffer.getvalue()
            file.write(content[: len(content) // 2])
            file.flush()
            os.fsync(file.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        return original(path, half)

    checkpoint.atomic_write = atomic_write


def main(mode, case, result):
    if mode == "kill":
        _stop_after(KILL_AT, lambda: os.kill(os.getpid(), signal.SIGKILL))
    elif mode == "kill_in_write":
        _die_in_second_checkpoint()
    elif mode == "sigint":
        _stop_after(KILL_AT, lambda: os.kill(os.getpid(), signal.SIGINT))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    model = build(case)
    raised = None
    try:
        model.fit()
    except KeyboardInterrupt as error:
        raised = str(error)
    with open(result, "wb") as file:
        pickle.dump({"raised": raised, "logger": model.logger,
                     "session_weights": model.problem.get_weights(model.sess),
                     "keras_weights": model.problem.NN.get_weights()}, file)


if __name__ == "__main__":
    main(*sys.argv[1:4])
