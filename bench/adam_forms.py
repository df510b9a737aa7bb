"""Adam's two fused forms on Tutorial 0: the flat ops against TensorFlow's per-tensor kernel.

``FusedAdamStep(flat=True)`` (a dozen elementwise ops over the flattened gradient) and
``flat=False`` (``ResourceApplyAdam`` per weight tensor) give the same bits; which is
cheaper depends on the intra-op threads (the kernel splits all but the smallest tensors
over them). Both run here in one process, at the given ``--intra`` threads (fixed
for the process at its first session), as Adam's step sequences of 16 iterations on
batches of 32, the forms alternating in the same rounds. Prints the median ms per
iteration of each and the ratio flat / kernel; Adam takes the flat form unless the
session has one intra-op thread. Run once per thread count:

    PYTHONPATH=. .venv/bin/python bench/adam_forms.py --intra 2
    PYTHONPATH=. .venv/bin/python bench/adam_forms.py --intra 1
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import rounds  # noqa: E402
from tutorial import tutorial_images, tutorial_problem  # noqa: E402

GROUP = 16  # iterations per session call, settings['steps_per_run']'s default


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intra", type=int, default=2, help="intra-op threads of the process")
    parser.add_argument("--groups", type=int, default=32, help="step sequences per timed call")
    parser.add_argument("--repeats", type=int, default=12, help="timed calls per form")
    args = parser.parse_args()
    from hessianlearn import tf
    from hessianlearn.algorithms.adam import Adam

    x_train, _ = tutorial_images(32 * GROUP * args.groups)
    print(f"adam_forms: TF {tf.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, intra-op threads {args.intra}, {args.groups} groups of {GROUP}")
    config = tf.ConfigProto(intra_op_parallelism_threads=args.intra, inter_op_parallelism_threads=2)
    runs = {}
    for flat in (True, False):
        problem = tutorial_problem()
        sess = tf.Session(graph=problem._graph, config=config)
        with problem._graph.as_default():
            sess.run(tf.global_variables_initializer())
        opt = Adam(problem, sess=sess, parameters={"alpha": 1e-4})
        opt._fused_form = lambda flat=flat: {"flat": flat}  # the form under test, whatever the threads
        feeds = [{problem.x: x_train[32 * i:32 * (i + 1)]} for i in range(GROUP * args.groups)]
        opt.minimize(feeds[0])

        def run(opt=opt, feeds=feeds):
            for k in range(0, len(feeds), GROUP):
                opt.minimize_steps(feeds[k:k + GROUP])

        run()
        if opt._fused.flat != flat:
            raise RuntimeError("Adam did not take the form under test: Adam._fused_form changed?")
        runs["flat ops" if flat else "per-tensor kernel"] = (run, len(feeds))
    medians, _ = rounds({name: run for name, (run, _) in runs.items()}, args.repeats)
    per_iteration = {name: medians[name] / runs[name][1] * 1e3 for name in runs}
    for name, ms in per_iteration.items():
        print(f"  {name:18s} {ms:.3f} ms per iteration")
    print(f"  flat / kernel {per_iteration['flat ops'] / per_iteration['per-tensor kernel']:.3f}")


if __name__ == "__main__":
    main()
