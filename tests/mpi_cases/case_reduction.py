"""Under MPI: loss, gradient, norm_g, Hdw, HdW, quadratics (with and without L2) on the
shards of a global batch equal the single-process values on the whole batch.

Each rank computes the single-process reference itself (``comm=None`` on the global
batch, from ``Data`` without a communicator and the same seed) and the data-parallel
value (``comm=COMM_WORLD`` on its shard from ``Data(..., comm=COMM)``).
"""
import numpy as np

from _harness import (COMM, SIZE, check, check_close, done, new_graph, session_with_weights,
                      tiny_regression_network)
from hessianlearn.data import Data
from hessianlearn.problem import ClassificationProblem, GaussNewton, Hessian, L2Regularization, RegressionProblem
from hessianlearn.utilities.reduction import evaluate, global_sample_count, partition_feed
from hessianlearn import keras


def regression_case():
    new_graph()
    problem = RegressionProblem(tiny_regression_network(), hessian_block_size=3)
    sess = session_with_weights(problem)
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((23, 3)), rng.standard_normal((23, 2))
    data = {problem.x: X, problem.y_true: Y}
    sharded = Data(data, batch_size=7, validation_data_size=4, hessian_batch_size=5, seed=3, comm=COMM)
    single = Data(data, batch_size=7, validation_data_size=4, hessian_batch_size=5, seed=3)
    for step in range(2):
        local, full = next(sharded.train), next(single.train)
        n_local = len(local[problem.x])
        check(f"shard size {n_local} of 7, fraction {sharded.local_batch_fraction:.3f}",
              abs(n_local / 7 - sharded.local_batch_fraction) < 1e-15)
        fetches = [problem.loss, problem.gradient, problem.norm_g, problem.accuracy]
        ref = evaluate(sess, fetches, full)
        got = evaluate(sess, fetches, local, COMM)
        for name, a, b in zip(["loss", "gradient", "norm_g", "accuracy"], got, ref):
            check_close(f"step {step} {name}", a, b)
        # dict fetches and a single tensor keep their structure
        got_dict = evaluate(sess, {"loss": problem.loss, "g": problem.gradient}, local, COMM)
        check_close("dict fetch", got_dict["g"], ref[1])
        check("scalar stays a numpy float64", isinstance(evaluate(sess, problem.loss, local, COMM), np.float64))

        hlocal, hfull = next(sharded.hess_train), next(single.hess_train)
        v = rng.standard_normal(problem.dimension)
        V = rng.standard_normal((problem.dimension, 5))  # 5 columns: blocks of 3 with padding
        for gamma in (0.0, 0.1):
            reg = L2Regularization(problem, gamma)
            H1 = Hessian(problem, sess, regularization=reg)
            H2 = Hessian(problem, sess, regularization=reg, comm=COMM)
            check_close(f"Hdw gamma={gamma}", H2(v, hlocal), H1(v, hfull))
            check_close(f"HdW gamma={gamma}", H2(V, hlocal), H1(V, hfull))
            check_close(f"quadratics gamma={gamma}", H2.quadratics(V, hlocal), H1.quadratics(V, hfull))
            # at a captured point: each rank captures its shard, products are reduced
            A2 = H2.at_point(hlocal)
            check_close(f"at_point Hdw gamma={gamma}", A2(v), H1(v, hfull))
            check_close(f"at_point HdW gamma={gamma}", A2(V), H1(V, hfull))
            G1 = GaussNewton(problem, sess, regularization=reg)
            G2 = GaussNewton(problem, sess, regularization=reg, comm=COMM)
            check_close(f"Gauss-Newton GV gamma={gamma}", G2(V, hlocal), G1(V, hfull))
        feed = dict(hlocal)
        feed[problem.dw] = v
        got = evaluate(sess, [problem.Hdw, problem.H_quadratic], feed, COMM)
        feed_full = dict(hfull)
        feed_full[problem.dw] = v
        ref = evaluate(sess, [problem.Hdw, problem.H_quadratic], feed_full)
        check_close("raw Hdw tensor", got[0], ref[0])
        check_close("raw H_quadratic", got[1], ref[1])
        dW, HdW = problem._hessian_block(3)
        feed = dict(hlocal)
        feed[dW] = V[:, :3]
        feed_full = dict(hfull)
        feed_full[dW] = V[:, :3]
        check_close("raw HdW tensor", evaluate(sess, HdW, feed, COMM), evaluate(sess, HdW, feed_full))
        check("caller's feed not modified", problem.dw not in hlocal)
        # partitions of the global Hessian batch: the same parts as one process forms
        parts_local, fractions = partition_feed(hlocal, 3, COMM)
        parts_full, fractions_full = partition_feed(hfull, 3)
        check("partition fractions", fractions == fractions_full, f"{fractions} {fractions_full}")
        check("global sample count", global_sample_count(hlocal, COMM) == 5)
        for j, (part_local, part_full) in enumerate(zip(parts_local, parts_full)):
            check_close(f"partition {j} HdW", H2(V, part_local), H1(V, part_full))
    # validation shard: the global validation loss
    full_val = single.validation
    fetches = [problem.loss, problem.rel_error, problem.variance_reduction]
    for name, a, b in zip(["loss", "rel_error", "variance_reduction"],
                          evaluate(sess, fetches, sharded.validation, COMM), evaluate(sess, fetches, full_val)):
        check_close(f"validation {name}", a, b)
    # data-independent fetches need no data and stay exact
    w = evaluate(sess, problem.w, {}, COMM)
    check("weights without data equal the local weights", np.array_equal(w, sess.run(problem.w)))
    sess.close()


def classification_case():
    new_graph()
    inputs = keras.Input(shape=(3,), dtype="float64")
    outputs = keras.layers.Dense(3)(keras.layers.Dense(4, activation="tanh")(inputs))
    problem = ClassificationProblem(keras.Model(inputs, outputs), hessian_block_size=2)
    sess = session_with_weights(problem, seed=1)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((9, 3))
    Y = np.eye(3)[rng.integers(0, 3, 9)]
    full = {problem.x: X, problem.y_true: Y}
    parts = np.array_split(np.arange(9), SIZE)
    local = {problem.x: X[parts[COMM.Get_rank()]], problem.y_true: Y[parts[COMM.Get_rank()]]}
    fetches = [problem.loss, problem.gradient, problem.accuracy]
    for name, a, b in zip(["loss", "gradient", "accuracy"], evaluate(sess, fetches, local, COMM),
                          evaluate(sess, fetches, full)):
        check_close(f"classification {name}", a, b)
    v = rng.standard_normal((problem.dimension, 2))
    check_close("classification HdW", Hessian(problem, sess, comm=COMM)(v, local),
                Hessian(problem, sess)(v, full))
    sess.close()


if __name__ == "__main__":
    regression_case()
    classification_case()
    done(__file__)
