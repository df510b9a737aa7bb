"""Strong scaling of Hessian-matrix products ``H V`` over MPI ranks.

A fixed global Hessian batch is split over ``P`` ranks; each rank applies the
block product to its shard and one weighted ``Allreduce`` sums the results
(:func:`hessianlearn.utilities.reduction.evaluate`). The strong-scaling
efficiency is

    E(P) = T(1) / (P * T(P)),

with ``T(P)`` the wall time of one ``H V`` (slowest rank, median of repeats).
Every rank runs TensorFlow with one thread so the ranks are the only
parallelism; a 1-rank run with ``P`` threads is printed for comparison.

Run ``python bench/mpi_scaling.py`` (it launches ``mpiexec -n 1`` and
``mpiexec -n 2`` itself). On a 2-core machine the numbers are bounded by the
two cores: 2 ranks is the most that can scale, and anything else running on
the machine (or TF's own thread pools) takes from the same two cores.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def worker(args):
    import numpy as np
    from mpi4py import MPI

    from hessianlearn import keras, tf
    from hessianlearn.problem import Hessian, RegressionProblem

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    keras.backend.set_floatx("float64")
    tf.set_random_seed(0)
    inputs = keras.Input(shape=(args.inputs,), dtype="float64")
    hidden = keras.layers.Dense(args.hidden, activation="softplus")(inputs)
    outputs = keras.layers.Dense(args.outputs)(hidden)
    problem = RegressionProblem(keras.Model(inputs, outputs), hessian_block_size=args.columns)
    config = tf.ConfigProto(intra_op_parallelism_threads=args.threads, inter_op_parallelism_threads=1)
    sess = tf.Session(config=config)
    sess.run(tf.global_variables_initializer())
    problem.set_weights(sess, np.random.default_rng(0).standard_normal(problem.dimension) * 0.1)

    rng = np.random.default_rng(1)
    X = rng.standard_normal((args.batch, args.inputs))
    Y = rng.standard_normal((args.batch, args.outputs))
    shard = np.array_split(np.arange(args.batch), size)[rank]
    feed = {problem.x: X[shard], problem.y_true: Y[shard]}
    V = rng.standard_normal((problem.dimension, args.columns))
    H = Hessian(problem, sess, comm=comm if size > 1 else None)
    H(V, feed)  # warm-up (graph pruning, allocations)
    times = []
    for _ in range(args.repeats):
        comm.Barrier()
        start = time.perf_counter()
        HV = H(V, feed)
        elapsed = time.perf_counter() - start
        times.append(comm.allreduce(elapsed, op=MPI.MAX))
    checksum = float(np.linalg.norm(HV))
    if rank == 0:
        print(json.dumps({"ranks": size, "threads": args.threads, "median": float(np.median(times)),
                          "min": float(np.min(times)), "dimension": problem.dimension,
                          "norm_HV": checksum}), flush=True)


def launch(ranks, threads, args):
    here = Path(sys.executable).parent / "mpiexec"
    mpiexec = os.environ.get("HESSIANLEARN_MPIEXEC", str(here) if here.exists() else "mpiexec").split()
    command = mpiexec + ["-n", str(ranks), sys.executable, __file__, "--worker", "--threads", str(threads),
                         "--batch", str(args.batch), "--columns", str(args.columns),
                         "--repeats", str(args.repeats), "--hidden", str(args.hidden),
                         "--inputs", str(args.inputs), "--outputs", str(args.outputs)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS=str(threads))
    run = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, env=env)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if run.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(command)} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=8192, help="global Hessian batch size")
    parser.add_argument("--columns", type=int, default=20, help="columns of V (one block)")
    parser.add_argument("--repeats", type=int, default=7, help="timed products per configuration")
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--outputs", type=int, default=16)
    parser.add_argument("--max-ranks", type=int, default=2, help="largest number of ranks")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    cores = os.cpu_count()
    print(f"Strong scaling of H V: global batch {args.batch}, {args.columns} columns, "
          f"MLP {args.inputs}-{args.hidden}-{args.outputs} (float64), {cores} cores, "
          f"median of {args.repeats}")
    base = launch(1, 1, args)
    print(f"weights: {base['dimension']}")
    print(f"{'ranks':>5} {'threads/rank':>12} {'time [s]':>10} {'speed-up':>9} {'efficiency':>10}")
    results = [base]
    print(f"{1:>5} {1:>12} {base['median']:>10.4f} {1.0:>9.2f} {1.0:>10.2f}")
    for ranks in range(2, args.max_ranks + 1):
        r = launch(ranks, 1, args)
        results.append(r)
        speedup = base["median"] / r["median"]
        print(f"{ranks:>5} {1:>12} {r['median']:>10.4f} {speedup:>9.2f} {speedup / ranks:>10.2f}")
        if abs(r["norm_HV"] - base["norm_HV"]) > 1e-10 * abs(base["norm_HV"]):
            print(f"  warning: ||HV|| differs from 1 rank: {r['norm_HV']} vs {base['norm_HV']}")
    threaded = launch(1, args.max_ranks, args)
    print(f"{1:>5} {args.max_ranks:>12} {threaded['median']:>10.4f} "
          f"{base['median'] / threaded['median']:>9.2f} {'(threads)':>10}")
    print(f"Note: this machine has {cores} cores; with {args.max_ranks} ranks the efficiency is bounded "
          "by those cores (and by whatever else runs on them), so the numbers show the overhead "
          "of the reduction, not cluster-scale behaviour.")


if __name__ == "__main__":
    main()
