"""Benchmark of the graph Hessian actions against the gradient (a script, not a test).

For each problem it prints, all measured in one process with the same session:

* the loss+gradient time (the unit),
* ``Hdw`` time and its ratio to the gradient,
* ``HdW`` with 20 columns: time and per-column ratio to the gradient,
* graph build time + first session run of the block product for 20 and 100 columns,
  and the first 100-column product of the Hessian operator (its 20-column block
  built and run five times),
* at a point captured by ``Hessian.at_point`` (:mod:`hessianlearn.problem.linearization`):
  the gradient run that also captures, ``Hdw`` and ``HdW`` per column on the captured
  inputs (the direction's work alone), all against the gradient,
* the peak resident memory (``ru_maxrss``) after the 100-column block.

Timings are medians of ``--repeats`` calls per quantity, taken in three alternating
rounds of consecutive calls (``timing.rounds``: caches warm, as in training; the
rounds alternate, so the ratios share the machine's state). Until session 3 each
quantity was timed by single calls interleaved with the others, which timed the
gradient after a block product, with cold caches: on a busy host that inflated
the unit (P3's gradient 22 ms cold against 14 ms warm) and flattered the ratios.
With ``--problem all`` each problem runs in its own child process, so that its
peak memory is its own.

Problems (float32, random data, 2 intra/inter-op threads):

* P1: autoencoder 784-100(softplus)-784(sigmoid), mean squared error, batch 1000;
* P3: CNN conv3x3x16 relu, maxpool 2, conv3x3x32 relu, maxpool 2, dense 10,
  softmax cross-entropy from logits, batch 256, 28x28x1 inputs.

Usage::

    .venv/bin/python bench/hessian_actions.py --problem all --repeats 30
"""
import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import rounds  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PROBLEMS = ("P1", "P3")


def _session(tf, threads, xla):
    config = tf.ConfigProto(intra_op_parallelism_threads=threads,
                            inter_op_parallelism_threads=threads)
    if xla:
        config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    return tf.Session(config=config)


def _build(name, hl):
    keras = hl.keras
    rng = np.random.default_rng(0)
    if name == "P1":
        model = keras.Sequential([
            keras.layers.Dense(100, activation="softplus", input_shape=(784,)),
            keras.layers.Dense(784, activation="sigmoid"),
        ])
        problem = hl.AutoencoderProblem(model)
        feed = {problem.x: rng.uniform(size=(1000, 784)).astype(np.float32)}
    elif name == "P3":
        model = keras.Sequential([
            keras.layers.Conv2D(16, 3, activation="relu", input_shape=(28, 28, 1)),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ])
        problem = hl.ClassificationProblem(model, loss_type="cross_entropy")
        labels = rng.integers(0, 10, size=256)
        feed = {problem.x: rng.uniform(size=(256, 28, 28, 1)).astype(np.float32),
                problem.y_true: np.eye(10, dtype=np.float32)[labels]}
    else:
        raise ValueError(f"problem must be one of {PROBLEMS}, got {name!r}")
    return problem, feed


def _timed(sess, fetch, feed):
    t0 = time.perf_counter()
    sess.run(fetch, feed)
    return time.perf_counter() - t0


def _baseline_block_product(problem, V):
    """The construction before issue 5: slice each column of V, one H v per column."""
    from hessianlearn import tf
    k = V.shape.as_list()[1]
    return tf.stack([problem._hessian_vector_product(V[:, j]) for j in range(k)], axis=1)


def run_problem(name, repeats, threads=2, xla=False, block=20, baseline=False):
    import hessianlearn as hl
    from hessianlearn.problem.hessian_products import hessian_block_product
    from hessianlearn.problem.linearization import capture_op, linearization
    tf = hl.tf
    if baseline:
        hl.Problem._hessian_block_product = _baseline_block_product

    t0 = time.perf_counter()
    problem, data = _build(name, hl)
    build_core = time.perf_counter() - t0
    sess = _session(tf, threads, xla)
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(1)
    n = problem.dimension
    dtype = problem.dtype.as_numpy_dtype

    # Block builds first, so each build+first run is timed on a fresh block.
    builds = {}
    for k in (block, 100):
        t0 = time.perf_counter()
        dW, HdW = problem._hessian_block(k)
        t_build = time.perf_counter() - t0
        feed = dict(data)
        feed[dW] = rng.standard_normal((n, k)).astype(dtype)
        t0 = time.perf_counter()
        sess.run(HdW, feed)
        builds[k] = (t_build, time.perf_counter() - t0)
        if k == 100:
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    # The dynamic-column block (one column product in a while loop).
    t0 = time.perf_counter()
    dW_dyn = tf.placeholder(problem.dtype, [n, None])
    HdW_dyn = hessian_block_product(problem, dW_dyn)
    t_build_dyn = time.perf_counter() - t0
    feed_d = dict(data)
    feed_d[dW_dyn] = rng.standard_normal((n, 100)).astype(dtype)
    t_first_dyn = _timed(sess, HdW_dyn, feed_d)
    feed_d[dW_dyn] = feed_d[dW_dyn][:, :block]

    feed_g = dict(data)
    feed_v = dict(data)
    feed_v[problem.dw] = rng.standard_normal(n).astype(dtype)
    dW, HdW = problem._hessian_block(block)
    feed_b = dict(data)
    feed_b[dW] = rng.standard_normal((n, block)).astype(dtype)
    fetch_g = [problem.loss, problem.gradient]
    # products at a captured point (Hessian.at_point): the direction's work alone
    t0 = time.perf_counter()
    at_vector = linearization(problem, *problem._point_hessian_vector_product())
    at_block = linearization(problem, dW, HdW)
    t_build_at = time.perf_counter() - t0
    capture = capture_op(problem, [at_vector, at_block])
    fetch_c = fetch_g + [capture]
    sess.run(fetch_c, feed_g)
    feed_av = {at_vector.direction: feed_v[problem.dw]}
    feed_ab = {at_block.direction: feed_b[dW]}
    medians, _ = rounds({
        "gradient": lambda: sess.run(fetch_g, feed_g),
        "Hdw": lambda: sess.run(problem.Hdw, feed_v),
        "HdW": lambda: sess.run(HdW, feed_b),
        "dynamic": lambda: sess.run(HdW_dyn, feed_d),
        "capture": lambda: sess.run(fetch_c, feed_g),
        "at Hdw": lambda: sess.run(at_vector.product, feed_av),
        "at HdW": lambda: sess.run(at_block.product, feed_ab)}, repeats)
    g, v, b, d = (medians[key] for key in ("gradient", "Hdw", "HdW", "dynamic"))
    c, av, ab = (medians[key] for key in ("capture", "at Hdw", "at HdW"))
    load = os.getloadavg()[0]
    print(f"{name}: dimension {n}, problem graph build {build_core:.2f} s, threads {threads}, "
          f"xla {'on' if xla else 'off'}, block construction "
          f"{'baseline' if baseline else 'current'}, {repeats} repeats (median), "
          f"load average {load:.1f}")
    print(f"  gradient            {1e3 * g:8.2f} ms")
    print(f"  Hdw                 {1e3 * v:8.2f} ms   Hdw / gradient            {v / g:5.2f}")
    print(f"  HdW ({block:3d} columns)  {1e3 * b:8.2f} ms   per column / gradient     "
          f"{b / block / g:5.2f}")
    print(f"  at a captured point (at_point; copies built in {t_build_at:.2f} s): capture with the "
          f"gradient {c / g:5.2f} gradients, Hdw / gradient {av / g:5.2f}, HdW per column / "
          f"gradient {ab / block / g:5.2f}")
    for k, (tb_, tr_) in builds.items():
        print(f"  block {k:3d}: build {tb_:6.2f} s + first run {tr_:6.2f} s = {tb_ + tr_:6.2f} s")
    first_call = sum(builds[block]) + (-(-100 // block) - 1) * b
    print(f"  Hessian operator, first product of 100 columns (its default {block}-column blocks): "
          f"build + first run + {-(-100 // block) - 1} more runs = {first_call:6.2f} s")
    print(f"  dynamic-column block (while loop): build {t_build_dyn:.2f} s + first run at 100 "
          f"columns {t_first_dyn:.2f} s; per column / gradient at {block} columns {d / block / g:5.2f}")
    print(f"  peak RSS after the 100-column block: {rss_mb:.0f} MB")
    sys.stdout.flush()
    sess.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", default="all", choices=PROBLEMS + ("all",))
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds (median)")
    parser.add_argument("--threads", type=int, default=2, help="intra/inter-op threads")
    parser.add_argument("--xla", action="store_true", help="session XLA auto-clustering (ON_1)")
    parser.add_argument("--baseline", action="store_true",
                        help="the block construction before issue 5 (column slices)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be a positive int")
    if args.problem == "all":
        for name in PROBLEMS:  # one process each, so ru_maxrss is per problem
            cmd = [sys.executable, os.path.abspath(__file__), "--problem", name,
                   "--repeats", str(args.repeats), "--threads", str(args.threads)]
            cmd += ["--xla"] * args.xla + ["--baseline"] * args.baseline
            subprocess.run(cmd, check=True)
        return
    if args.xla:
        os.environ.setdefault("TF_XLA_FLAGS", "--tf_xla_cpu_global_jit")
    run_problem(args.problem, args.repeats, threads=args.threads, xla=args.xla,
                baseline=args.baseline)


if __name__ == "__main__":
    main()
