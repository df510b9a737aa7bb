"""Tutorial 0 fits with the DEFAULT settings (what a user runs), timed whole.

784-32-784 softplus/sigmoid autoencoder on MNIST (float32), batch 32, Hessian batch 8,
LRSFN rank 40 (alpha 5e-2), Adam (alpha 1e-3) and others named by ``--optimizers``
(e.g. ``incg``, its own default alpha), everything else the library's
defaults (``fused_step='auto'``, Gaussian test matrix, ``steps_per_run``). Each fit is
timed from ``fit()`` to its return, so every graph build and the validations count.
Prints seconds per sweep, the first iteration's time (it includes building the fused
graph), the validation losses at sweeps 1, 2 (and 10 when reached) and, for LRSFN and
Adam, the speed-up over the original's s per sweep on this machine class.

    .venv/bin/python bench/default_fit.py --sweeps 2
    .venv/bin/python bench/default_fit.py --optimizers adam --steps-per-run 1 16
    .venv/bin/python bench/default_fit.py --reference          # fused_step False
    .venv/bin/python bench/default_fit.py --optimizers lrsfn --test-matrices gaussian rademacher
    .venv/bin/python bench/default_fit.py --optimizers incg --set hessian_at_point=True
"""
import argparse
import ast
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tutorial import tutorial_images, tutorial_problem  # noqa: E402


#: Tutorial 0's step lengths; other optimizers (e.g. 'incg') keep their own default (None)
TUTORIAL_ALPHA = {"lrsfn": 5e-2, "adam": 1e-3}
#: The original code's s per sweep on this machine class, Tutorial 0, 2-sweep fits measured
#: whole in one run beside this library (../shared/reference/anchors.md, issue 15)
ORIGINAL_S_PER_SWEEP = {"lrsfn": 12.4, "adam": 36.6}


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=float, default=2.0)
    parser.add_argument("--optimizers", nargs="+", default=["lrsfn", "adam"])
    parser.add_argument("--steps-per-run", type=int, nargs="+", default=[None],
                        help="Adam/SGD settings['steps_per_run'] values to time (default: the default)")
    parser.add_argument("--test-matrices", nargs="+", default=[None], choices=["gaussian", "rademacher"],
                        help="LRSFN test matrices to time in turn (default: the default); with both, the "
                             "Gaussian / Rademacher ratio of s per sweep is printed")
    parser.add_argument("--reference", action="store_true", help="fused_step False (numpy path)")
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="settings to override, VALUE a Python literal (e.g. hessian_at_point=True)")
    return parser.parse_args()


def main():
    args = _parse()
    overrides = {key: ast.literal_eval(value) for key, value in (item.split("=", 1) for item in args.set)}
    import hessianlearn as hl
    from hessianlearn import tf

    x_train, x_test = tutorial_images(args.train_size)
    print(f"default_fit: python {sys.version.split()[0]}, TF {tf.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, N = {len(x_train)}, {args.sweeps} sweeps")
    per_sweep = {}  # LRSFN s per sweep by test matrix, for the ratio
    for optimizer in args.optimizers:
        variants = [{}]
        if optimizer in ("adam", "sgd"):
            variants = [{} if steps is None else {"steps_per_run": steps} for steps in args.steps_per_run]
        elif optimizer == "lrsfn":
            variants = [{} if kind is None else {"test_matrix": kind} for kind in args.test_matrices]
        for variant in variants:
            problem = tutorial_problem()
            data = hl.Data({problem.x: x_train}, 32, validation_data={problem.x: x_test},
                           hessian_batch_size=8, seed=0)
            settings = {"optimizer": optimizer, "alpha": TUTORIAL_ALPHA.get(optimizer),
                        "max_sweeps": args.sweeps, "save_logger": False, "verbose": False,
                        **({"hessian_low_rank": 40} if optimizer == "lrsfn" else {})}
            settings.update(variant)
            if args.reference:
                settings["fused_step"] = False
            settings.update(overrides)
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
            if "test_matrix" in variant:
                label += f" {variant['test_matrix']}"
                per_sweep[variant["test_matrix"]] = wall / done
            print(f"  {label:24s} {path:9s}: {len(logger['sweeps']):6d} iterations, {wall:7.2f} s, "
                  f"{wall / done:5.2f} s per sweep; first iteration {first:.2f} s; "
                  f"val loss at sweeps {', '.join(marks)}"
                  + (f"; {ORIGINAL_S_PER_SWEEP[optimizer] * done / wall:.1f}x the original's "
                     f"{ORIGINAL_S_PER_SWEEP[optimizer]} s per sweep" if optimizer in ORIGINAL_S_PER_SWEEP else ""))
            model.close()
    if len(per_sweep) == 2:
        print(f"  lrsfn s per sweep, gaussian / rademacher: {per_sweep['gaussian'] / per_sweep['rademacher']:.2f}")


if __name__ == "__main__":
    main()
