"""First and later session runs of Tutorial 0's graphs, with the fit session's graph rewrites
against TensorFlow's default rewrites.

TensorFlow rewrites (Grappler) each new fetch and feed signature at its first run, which a
short fit pays once per graph. ``HessianlearnModel`` opens its session with
``hessianlearn.model.model.graph_rewrite_config`` (one meta-optimizer round, no TFG pass).
Each measurement runs in a fresh process (the first-run costs are per process and graph):
it builds the graph, opens a session with one of the two configurations, and times the
first run and the median of the later ones. The two configurations alternate in each round;
the ratios (fit rewrites / default rewrites) are taken within a round.

Graphs: ``lrsfn``, the fused LRSFN step (rank 40, Hessian batch 8, Gaussian drawn in the
graph); ``adam``, the 16-step Adam sequence (batch 32); ``validation``, the loss on the
10 000 validation images.

    PYTHONPATH=. .venv/bin/python bench/first_run.py --rounds 3
"""
import argparse
import json
import os
import subprocess
import sys
import time

GRAPHS = ("lrsfn", "adam", "validation")
MODES = ("default", "fit")


def _measure(graph, mode, repeats):
    """In this process: build ``graph``, open a session in ``mode``, time its runs (s)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np
    from tutorial import tutorial_images, tutorial_problem

    from hessianlearn import tf
    from hessianlearn.model.model import graph_rewrite_config
    from hessianlearn.problem.fused_steps import FusedStepSequence, fused_step

    x_train, x_test = tutorial_images(1024)
    problem = tutorial_problem()
    if graph == "lrsfn":
        step = fused_step("lrsfn", problem, None, rank=40)
        fetches = {k: v for k, v in step.fetches.items() if k != "update"}
        g = np.full(problem.dimension, 1e-3, np.float32)
        feed = step.feed({problem.x: x_train[:8]}, g, 3, 5e-2, 1e-4)
    elif graph == "adam":
        sequence = FusedStepSequence(problem, None, "adam")
        fetches = sequence.fetches
        feed = sequence.feed([{problem.x: x_train[32 * i: 32 * (i + 1)]} for i in range(16)],
                             alpha=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-7, t=1)
    else:
        fetches, feed = problem.loss, {problem.x: x_test}
    config = tf.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=2)
    if mode == "fit":
        graph_rewrite_config(config)
    with problem._graph.as_default():
        initializer = tf.global_variables_initializer()
    sess = tf.Session(graph=problem._graph, config=config)
    sess.run(initializer)
    if graph == "adam":
        sequence.step.reset(sess)  # the moments (variables outside the global collection)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        sess.run(fetches, feed)
        times.append(time.perf_counter() - start)
    return {"first": times[0], "later": float(np.median(times[1:]))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15, help="later runs timed (median)")
    parser.add_argument("--graphs", nargs="+", default=list(GRAPHS), choices=GRAPHS)
    parser.add_argument("--child", nargs=2, metavar=("GRAPH", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds < 1 or args.repeats < 1:
        parser.error("--rounds and --repeats must be at least 1")
    if args.child:
        print(json.dumps(_measure(*args.child, args.repeats)))
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    print(f"first_run: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"{args.rounds} rounds, {args.repeats} later runs each")
    print(f"{'graph':12s} {'round':>5s} | {'first run, default / fit rewrites (s)':>38s} {'ratio':>6s} | "
          f"{'later runs (ms)':>16s} {'ratio':>6s}")
    for graph in args.graphs:
        for r in range(args.rounds):
            out = {}
            for mode in MODES:
                run = subprocess.run([sys.executable, __file__, "--child", graph, mode,
                                      "--repeats", str(args.repeats)],
                                     capture_output=True, text=True, env=env, check=True)
                out[mode] = json.loads(run.stdout.strip().splitlines()[-1])
            d, f = out["default"], out["fit"]
            print(f"{graph:12s} {r + 1:5d} | {d['first']:18.3f} / {f['first']:.3f} "
                  f"{f['first'] / d['first']:12.2f} | "
                  f"{1e3 * d['later']:7.2f} / {1e3 * f['later']:.2f} {f['later'] / d['later']:6.2f}")


if __name__ == "__main__":
    main()
