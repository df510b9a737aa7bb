"""The fused LRSFN step's Hessian block and Gram matrices in their alternative forms, timed alike.

Tutorial 0's autoencoder (784-32-784) at two shapes, Hessian batch 8 with 40 rows and
Hessian batch 100 with 20 rows. For ``H V`` with ``V^T`` given as ``(k, n_i)`` row parts
(what the fused step applies twice per iteration), prints the session-run time of

* the vectorized block (``tf.vectorized_map``) with this library's broadcast ``MatMul``
  rule (``hessianlearn._internals.broadcast_matmul_rule``, the default),
* the vectorized block with TensorFlow's own rule (the ``pfor_matmul`` fallback),
* the unrolled block (one product per row, ``hessian_row_block_parts``),

each over the default, and the graph-build time of each; then the ``(40, 25088)`` Gram
``A B^T`` as ``tf.matmul(A, B, transpose_b=True)`` against the batch-of-one product the
step uses. Inputs live in variables (no feeds); the results are reduced in the graph so
that no block is fetched. Medians of alternating rounds (``timing.rounds``).

    PYTHONPATH=. .venv/bin/python bench/block_forms.py [--repeats 30]
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import rounds, spread  # noqa: E402
from tutorial import tutorial_images, tutorial_problem  # noqa: E402

#: (Hessian batch, rows k)
SHAPES = {"tutorial": (8, 40), "large": (100, 20)}


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per form (median)")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--train-size", type=int, default=2000)
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error("--repeats must be >= 3")
    return args


def _blocks(problem, k):
    """{form: (reduced output, build seconds)} of ``H V`` for the three forms."""
    from hessianlearn import tf
    from hessianlearn._internals import public_fallbacks
    from hessianlearn.problem.hessian_products import hessian_row_block_parts, vectorized_row_block_parts
    rng = np.random.default_rng(0)
    with problem._graph.as_default():
        parts = [tf.Variable(rng.standard_normal((k, b - a)).astype(np.float32), trainable=False)
                 for a, b in problem.indices]
        rows = [tf.convert_to_tensor(p) for p in parts]

    def stock():
        with public_fallbacks("pfor_matmul"):
            return vectorized_row_block_parts(problem, rows)

    builders = {"vectorized, broadcast MatMul rule (default)": lambda: vectorized_row_block_parts(problem, rows),
                "vectorized, TensorFlow's MatMul rule": stock,
                "unrolled rows": lambda: hessian_row_block_parts(problem, rows)}
    out = {}
    for name, build in builders.items():
        start = time.perf_counter()
        with problem._graph.as_default():
            block = build()
            reduced = tf.add_n([tf.reduce_sum(part) for part in block])
        out[name] = (reduced, time.perf_counter() - start)
    return out


def _grams(problem):
    """{form: reduced output} of the (40, 25088) Gram ``A B^T`` in its two forms."""
    from hessianlearn import tf
    rng = np.random.default_rng(1)
    with problem._graph.as_default():
        a, b = (tf.Variable(rng.standard_normal((40, 25088)).astype(np.float32), trainable=False)
                for _ in range(2))
        return {"gram tf.matmul(A, B, transpose_b=True)": tf.reduce_sum(tf.matmul(a, b, transpose_b=True)),
                "gram batch of one (the step's form)": tf.reduce_sum(
                    tf.matmul(a[tf.newaxis], b[tf.newaxis], transpose_b=True)[0])}


def main():
    args = _parse()
    from hessianlearn import tf
    x_train, _ = tutorial_images(args.train_size)
    print(f"block_forms: TF {tf.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, repeats {args.repeats}")
    config = tf.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=2)
    for shape in args.shapes:
        hess_batch, k = SHAPES[shape]
        problem = tutorial_problem()
        blocks = _blocks(problem, k)
        grams = _grams(problem) if shape == "tutorial" else {}
        sess = tf.Session(graph=problem._graph, config=config)
        sess.run(tf.global_variables_initializer())
        feed = {problem.x: x_train[np.random.default_rng(2).choice(len(x_train), hess_batch, replace=False)]}
        functions = {name: (lambda t=t: sess.run(t, feed)) for name, (t, _) in blocks.items()}
        functions.update({name: (lambda t=t: sess.run(t)) for name, t in grams.items()})
        values = {name: sess.run(t, feed) for name, (t, _) in blocks.items()}
        medians, times = rounds(functions, args.repeats)
        default = next(iter(blocks))
        print(f"\n[{shape}] Hessian batch {hess_batch}, k = {k} rows, dimension {problem.dimension}")
        for name, (_, build) in blocks.items():
            print(f"  {name:46s} {1e3 * medians[name]:7.2f} ms per run, "
                  f"over the default {medians[name] / medians[default]:5.2f}; build {build:5.2f} s "
                  f"(IQR/median {spread(times[name]):.2f}; sum {values[name]:.6e})")
        if grams:
            names = list(grams)
            for name in names:
                print(f"  {name:46s} {1e3 * medians[name]:7.2f} ms per run")
            print(f"  gram batch of one / tf.matmul               {medians[names[1]] / medians[names[0]]:5.2f}")
        sess.close()


if __name__ == "__main__":
    main()
