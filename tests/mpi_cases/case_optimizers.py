"""Under MPI: one iteration of LRSFN (fixed rank, 'arf', 'naarf') and of Newton-CG (fixed step,
line search, trust region) on the shards of a global batch gives the single-process weights.

Each rank runs the single-process optimizer (``comm=None``) on the global batch from the same
starting weights, then the data-parallel one (``comm=COMM``) on its shard; the new weights,
the losses and the sweep counts must agree to 1e-10 and the weights must be bitwise equal
on all ranks.
"""
import numpy as np

from _harness import (COMM, check, check_close, done, new_graph, session_with_weights,
                      tiny_regression_network)
from hessianlearn.algorithms import InexactNewtonCG, LowRankSaddleFreeNewton
from hessianlearn.data import Data
from hessianlearn.problem import L2Regularization, RegressionProblem
from hessianlearn.utilities.mpi import check_identical

CASES = [
    (LowRankSaddleFreeNewton, {"hessian_low_rank": 4, "oversample": 3, "alpha": 0.1}),
    (LowRankSaddleFreeNewton, {"hessian_low_rank": 6, "range_finding": "arf", "range_block_size": 2,
                               "globalization": "line_search"}),
    (LowRankSaddleFreeNewton, {"hessian_low_rank": 6, "range_finding": "naarf", "range_block_size": 2,
                               "rq_samps": 3, "range_abs_error_tolerance": 1e-6}),
    (InexactNewtonCG, {"cg_max_iter": 5, "alpha": 0.5}),
    (InexactNewtonCG, {"cg_max_iter": 5, "globalization": "line_search"}),
    (InexactNewtonCG, {"cg_max_iter": 5, "globalization": "trust_region"}),
]


def main():
    new_graph()
    problem = RegressionProblem(tiny_regression_network(), hessian_block_size=4)
    regularization = L2Regularization(problem, 1e-3)
    sess = session_with_weights(problem)
    w0 = problem.get_weights(sess)
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((30, 3)), rng.standard_normal((30, 2))
    arrays = {problem.x: X, problem.y_true: Y}
    kwargs = dict(batch_size=11, hessian_batch_size=7, validation_data_size=5, seed=2)
    sharded, single = Data(arrays, comm=COMM, **kwargs), Data(arrays, **kwargs)
    for optimizer_class, parameters in CASES:
        label = f"{optimizer_class.__name__} {parameters}"
        # the single process on the reference path, the one MPI runs ('auto' would be fused)
        single_parameters = dict(parameters)
        if "fused_step" in optimizer_class.default_parameters():
            single_parameters["fused_step"] = False
        reference = optimizer_class(problem, regularization, sess, parameters=single_parameters)
        parallel = optimizer_class(problem, regularization, sess, parameters=dict(parameters), comm=COMM)
        for step in range(2):  # two steps: the random generator and solver state advance alike
            batch, hess_batch = next(single.train), next(single.hess_train)
            local, hess_local = next(sharded.train), next(sharded.hess_train)
            start = problem.get_weights(sess)
            info_ref = reference.minimize(batch, hess_batch)
            w_ref = problem.get_weights(sess)
            problem.set_weights(sess, start)
            info = parallel.minimize(local, hess_local)
            w = problem.get_weights(sess)
            check_close(f"{label} step {step}: weights", w, w_ref)
            if np.any(w_ref != start):
                check_close(f"{label} step {step}: step w1 - w0", w - start, w_ref - start)
            check_close(f"{label} step {step}: loss", info["loss"], info_ref["loss"])
            check_close(f"{label} step {step}: sweeps", parallel.sweeps, reference.sweeps, 1e-14)
            check(f"{label} step {step}: same alpha", abs(info["alpha"] - info_ref["alpha"]) <= 1e-10,
                  f"{info['alpha']} vs {info_ref['alpha']}")
            if hasattr(reference, "eigenvalues"):
                check(f"{label} step {step}: same rank", reference.rank == parallel.rank,
                      f"{reference.rank} vs {parallel.rank}")
                check_close(f"{label} step {step}: eigenvalues", parallel.eigenvalues, reference.eigenvalues)
            check_identical(COMM, w, f"{label} weights")
            problem.set_weights(sess, w_ref)  # both continue from the same point
        problem.set_weights(sess, w0)
    sess.close()


if __name__ == "__main__":
    main()
    done(__file__)
