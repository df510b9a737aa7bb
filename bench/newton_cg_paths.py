"""Inexact Newton-CG iterations on Tutorial 0: CG on the host against CG in the graph.

Four ways to run the same ``InexactNewtonCG.minimize`` (the same iterates, tested to
round-off in float64): the default fast path (``fused_step='auto'``: the host CG with
products at a captured point, the capture, the first product, and with a fixed step CG's
first iteration and the update when it ends the solve, in the gradient's run; then one run
per further product), the same with the first iteration and update on the host
(``InexactNewtonCG.first_step_in_gradient_run = False``), CG in a
``tf.while_loop`` (``cg_in_graph=True``: one session run for the whole solve and
update) and the numpy reference path (``fused_step=False``: one full product run per
CG iteration). Two curvature regimes: the Tutorial 0 Hessian with the default
Eisenstat-Walker forcing (CG usually stops at negative curvature after 1-2 products)
and the Gauss-Newton matrix with a tight fixed tolerance (all ``cg_max_iter`` products).
Batch 32, Hessian batch 8, alpha 5e-2; the paths alternate in the same rounds; prints the
median ms per iteration, products per iteration and the ratios to the default path.

    PYTHONPATH=. .venv/bin/python bench/newton_cg_paths.py --repeats 60
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import rounds  # noqa: E402
from tutorial import tutorial_images, tutorial_problem  # noqa: E402

#: name -> (parameters, InexactNewtonCG.first_step_in_gradient_run)
PATHS = {"host CG at a captured point (default)": ({}, True),
         "the same, first CG iteration on the host": ({}, False),
         "in-graph CG": ({"cg_in_graph": True}, True),
         "numpy reference": ({"fused_step": False}, True)}
REGIMES = {"hessian, Eisenstat-Walker": {},
           "gauss_newton, 10 products": {"hessian_type": "gauss_newton", "eta_mode": 0,
                                          "cg_coarse_tolerance": 1e-12}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60, help="timed iterations per path and regime")
    parser.add_argument("--cg-max-iter", type=int, default=10)
    args = parser.parse_args()
    from hessianlearn import tf
    from hessianlearn.algorithms.inexact_newton_cg import InexactNewtonCG

    x_train, _ = tutorial_images(4000)
    print(f"newton_cg_paths: TF {tf.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, repeats {args.repeats}")
    for regime, overrides in REGIMES.items():
        problem = tutorial_problem()
        sess = tf.Session(graph=problem._graph)
        sess.run(tf.global_variables_initializer())
        w0 = problem.get_weights(sess)
        optimizers, counter = {}, {}
        for name, (path, in_gradient_run) in PATHS.items():
            optimizers[name] = InexactNewtonCG(problem, sess=sess, parameters={
                "alpha": 5e-2, "cg_max_iter": args.cg_max_iter, **overrides, **path})
            optimizers[name].first_step_in_gradient_run = in_gradient_run
        rng = np.random.default_rng(0)

        def iteration(name):
            def run():
                ids = rng.integers(0, len(x_train), 40)
                optimizer = optimizers[name]
                info = optimizer.minimize({problem.x: x_train[ids[:32]]}, {problem.x: x_train[ids[32:]]})
                counter.setdefault(name, []).append(info["cg_iterations"])
                problem.set_weights(sess, w0.copy())  # every path at the same point
            return run

        medians, _ = rounds({name: iteration(name) for name in PATHS}, args.repeats)
        reference = medians["host CG at a captured point (default)"]
        print(f"[{regime}]")
        for name in PATHS:
            print(f"  {name:41s} {1e3 * medians[name]:7.2f} ms per iteration "
                  f"({np.mean(counter[name]):.1f} products), {medians[name] / reference:5.2f} x the default")
        sess.close()


if __name__ == "__main__":
    main()
