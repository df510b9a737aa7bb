"""Under MPI: bad input on some ranks only gives a clear error on every rank, never a hang.

Each case makes the ranks disagree (or gives one rank an empty shard), expects the
error on every rank, then meets at a barrier: reaching ``PASS`` proves no rank was
left waiting in a collective.
"""
import numpy as np

from _harness import (COMM, RANK, SIZE, check, done, expect_error, new_graph,
                      session_with_weights, tiny_regression_network)
from hessianlearn.data import Data
from hessianlearn.problem import Hessian, RegressionProblem
from hessianlearn.utilities.mpi import (check_agreement, check_data_agreement,
                                        check_generator_agreement, check_identical,
                                        synchronized_generator)
from hessianlearn.utilities.reduction import evaluate


def data_cases():
    rng = np.random.default_rng(0)
    arrays = {"x": rng.standard_normal((20, 3)), "y": rng.standard_normal((20, 2))}
    # batch_size valid on rank 0, too large on rank 1: rank 1 alone would fail its local check
    expect_error("Data batch_size differs per rank", ValueError,
                 lambda: Data(arrays, 4 if RANK == 0 else 100, validation_data_size=4, comm=COMM),
                 match="disagree on batch_size")
    COMM.Barrier()
    shaped = dict(arrays)
    if RANK == 1:
        shaped["x"] = rng.standard_normal((20, 4))
    expect_error("Data shapes differ per rank", ValueError,
                 lambda: Data(shaped, 4, validation_data_size=4, seed=1, comm=COMM), match="disagree on data")
    COMM.Barrier()
    expect_error("Data seed differs per rank", ValueError,
                 lambda: Data(arrays, 4, validation_data_size=4, seed=RANK, comm=COMM), match="seed")
    COMM.Barrier()
    expect_error("Data batch smaller than one sample per rank", ValueError,
                 lambda: Data(arrays, 1, validation_data_size=4, comm=COMM), match="at least one sample")
    COMM.Barrier()


def evaluate_cases():
    new_graph()
    problem = RegressionProblem(tiny_regression_network(), hessian_block_size=2)
    sess = session_with_weights(problem)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    # rank 1 holds no sample of a 1-sample batch: it contributes nothing, the result is exact
    n = 1 if RANK == 0 else 0
    feed = {problem.x: X[:n], problem.y_true: Y[:n]}
    full = {problem.x: X[:1], problem.y_true: Y[:1]}
    g = evaluate(sess, problem.gradient, feed, COMM)
    check("empty shard on one rank: gradient exact",
          np.allclose(g, evaluate(sess, problem.gradient, full), rtol=1e-12, atol=0))
    V = np.ones((problem.dimension, 3))
    check("empty shard on one rank: HdW exact",
          np.allclose(Hessian(problem, sess, comm=COMM)(V, feed), Hessian(problem, sess)(V, full),
                      rtol=1e-12, atol=0))
    expect_error("empty shard and a fetch without static shape", ValueError,
                 lambda: evaluate(sess, problem.y_prediction, feed, COMM), match="static shape")
    empty = {problem.x: X[:0], problem.y_true: Y[:0]}
    expect_error("empty global batch", ValueError,
                 lambda: evaluate(sess, problem.loss, empty, COMM), match="global batch is empty")
    COMM.Barrier()
    # x and y of different lengths on rank 0 only
    bad = {problem.x: X[:3], problem.y_true: Y[: (2 if RANK == 0 else 3)]}
    expect_error("x and y lengths differ on one rank", ValueError,
                 lambda: evaluate(sess, problem.loss, bad, COMM), match="numbers of samples")
    COMM.Barrier()
    # sess.run fails on rank 1 only (wrong per-sample shape)
    wrong = {problem.x: X[:3] if RANK == 0 else rng.standard_normal((3, 5)), problem.y_true: Y[:3]}
    err = expect_error("TensorFlow error on one rank", Exception,
                       lambda: evaluate(sess, problem.loss, wrong, COMM))
    check("healthy rank names the failing rank", RANK == 1 or "rank 1" in str(err),
          repr(err))
    COMM.Barrier()
    expect_error("local fractions not summing to 1", ValueError,
                 lambda: evaluate(sess, problem.loss, {problem.x: X[:3], problem.y_true: Y[:3]}, COMM,
                                  local_fraction=0.3), match="sum to 1")
    COMM.Barrier()
    # after all these errors the communicator still works
    half = np.array_split(np.arange(6), SIZE)[RANK]
    value = evaluate(sess, problem.loss, {problem.x: X[half], problem.y_true: Y[half]}, COMM)
    reference = evaluate(sess, problem.loss, {problem.x: X, problem.y_true: Y})
    check("reduction works after the errors", abs(value - reference) <= 1e-12 * abs(reference))
    sess.close()


def helper_cases():
    expect_error("settings disagree", ValueError,
                 lambda: check_agreement(COMM, {"optimizer": "lrsfn", "rank_k": 10 + RANK}, "optimizer settings"),
                 match="rank_k (rank 0: 10, rank 1: 11)")
    check_agreement(COMM, {"optimizer": "lrsfn", "rank_k": 10})
    expect_error("data shapes disagree", ValueError,
                 lambda: check_data_agreement(COMM, {"x": np.zeros((4, 3 + RANK))}), match="'x' per-sample shape")
    w = np.arange(5.0)
    check_identical(COMM, w)
    expect_error("weights differ", ValueError,
                 lambda: check_identical(COMM, w + RANK * 1e-3), match="max |diff| 1.000e-03")
    draws = synchronized_generator(COMM, None).standard_normal(4)
    check_identical(COMM, draws, "draws of the synchronized generator")
    check("synchronized generator agrees", True)
    check_generator_agreement(COMM, np.random.default_rng(3))
    expect_error("generators seeded differently", ValueError,
                 lambda: check_generator_agreement(COMM, np.random.default_rng(RANK)), match="seed")
    expect_error("bad seed on rank 0 reaches every rank", ValueError,
                 lambda: synchronized_generator(COMM, -1), match="seed")


if __name__ == "__main__":
    data_cases()
    evaluate_cases()
    helper_cases()
    done(__file__)
