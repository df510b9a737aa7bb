"""Tutorial 0 fits with the DEFAULT settings (what a user runs), timed whole.

784-32-784 softplus/sigmoid autoencoder on MNIST (float32), batch 32, Hessian batch 8,
LRSFN rank 40 (alpha 5e-2) and Adam (alpha 1e-3), everything else the library's
defaults (``fused_step='auto'``, Gaussian test matrix, ``steps_per_run``). Each fit is
timed from ``fit()`` to its return, so every graph build and the validations count.
Prints seconds per sweep, the first iteration's time (it includes building the fused
graph) and the validation losses at sweeps 1, 2 (and 10 when reached).

    .venv/bin/python bench/default_fit.py --sweeps 2
    .venv/bin/python bench/default_fit.py --optimizers adam --steps-per-run 1 16
    .venv/bin/python bench/default_fit.py --reference          # fused_step False
"""
import argparse
import os
import sys
import time

import numpy as np


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=float, default=2.0)
    parser.add_argument("--optimizers", nargs="+", default=["lrsfn", "adam"])
    parser.add_argument("--steps-per-run", type=int, nargs="+", default=[None],
                        help="Adam/SGD settings['steps_per_run'] values to time (default: the default)")
    parser.add_argument("--reference", action="store_true", help="fused_step False (numpy path)")
    parser.add_argument("--train-size", type=int, default=60000)
    return parser.parse_args()


def main():
    args = _parse()
    import hessianlearn as hl
    from hessianlearn import tf

    (x_train, _), (x_test, _) = hl.load_mnist()
    x_train = x_train[: args.train_size].reshape(-1, 784).astype(np.float32) / 255.0
    x_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0
    print(f"default_fit: python {sys.version.split()[0]}, TF {tf.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, N = {len(x_train)}, {args.sweeps} sweeps")
    for optimizer in args.optimizers:
        for steps in (args.steps_per_run if optimizer in ("adam", "sgd") else [None]):
            tf.reset_default_graph()
            tf.set_random_seed(0)
            inputs = hl.keras.Input(shape=(784,))
            code = hl.keras.layers.Dense(32, activation="softplus")(inputs)
            problem = hl.AutoencoderProblem(
                hl.keras.Model(inputs, hl.keras.layers.Dense(784, activation="sigmoid")(code)),
                dtype=tf.float32)
            data = hl.Data({problem.x: x_train}, 32, validation_data={problem.x: x_test},
                           hessian_batch_size=8, seed=0)
            settings = {"optimizer": optimizer, "hessian_low_rank": 40,
                        "alpha": 5e-2 if optimizer == "lrsfn" else 1e-3, "max_sweeps": args.sweeps,
                        "save_logger": False, "verbose": False}
            if steps is not None:
                settings["steps_per_run"] = steps
            if args.reference:
                settings["fused_step"] = False
            model = hl.HessianlearnModel(problem, hl.L2Regularization(problem, 0.0), data,
                                         settings=settings)
            start = time.perf_counter()
            logger = model.fit()
            wall = time.perf_counter() - start
            done = logger["sweeps"][max(logger["sweeps"])]
            first = logger["time"].get(1, 0.0)  # key i is w_i: key 1 is after the first step
            marks = []
            for mark in (1, 2, 10):
                hits = [i for i in logger["val_loss"] if logger["sweeps"][i] >= mark - 1e-9]
                if hits:
                    marks.append(f"{mark}: {logger['val_loss'][min(hits)]:.3e}")
            path = "fast" if model.optimizer.fast_path_iterations else "reference"
            label = optimizer + (f" steps_per_run={model.settings['steps_per_run']}"
                                 if optimizer in ("adam", "sgd") else "")
            print(f"  {label:24s} {path:9s}: {len(logger['sweeps']):6d} iterations, {wall:7.2f} s, "
                  f"{wall / done:5.2f} s per sweep; first iteration {first:.2f} s; "
                  f"val loss at sweeps {', '.join(marks)}")
            model.close()


if __name__ == "__main__":
    main()
