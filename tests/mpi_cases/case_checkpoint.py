"""Under MPI: rank 0 writes the checkpoints, every rank resumes from them to the same end.

For LRSFN and for L-BFGS (whose curvature pairs are state), each rank fits 2 sweeps
on its shard with ``checkpoint_frequency = 0.5`` (the uninterrupted run), then the
newest checkpoint is removed (rank 0) and every rank resumes from the previous one:
the resumed logger (all but the timings) and the final weights equal the
uninterrupted run's bitwise, on every rank.
"""
import os
import shutil
import tempfile

import numpy as np

from _harness import COMM, RANK, check, done, new_graph, tiny_regression_network
from hessianlearn.data import Data
from hessianlearn.model import HessianlearnModel
from hessianlearn.model.checkpoint import checkpoint_paths
from hessianlearn.problem import L2Regularization, RegressionProblem

COMMON = {"max_sweeps": 2.0, "checkpoint_frequency": 0.5, "problem_name": "mpick", "verbose": False}
CASES = {"lrsfn": {"optimizer": "lrsfn", "hessian_low_rank": 2, "alpha": 1e-2},
         "lbfgs": {"optimizer": "lbfgs"}}


def fit(settings, resume):
    new_graph()
    problem = RegressionProblem(tiny_regression_network(), hessian_block_size=4)
    rng = np.random.default_rng(11)
    X = rng.standard_normal((136, 3))
    Y = np.stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.cos(X[:, 1])], axis=1)
    data = Data({problem.x: X, problem.y_true: Y}, batch_size=16, hessian_batch_size=8,
                validation_data_size=8, seed=4, comm=COMM)
    model = HessianlearnModel(problem, L2Regularization(problem, 1e-3), data, settings={**COMMON, **settings}, comm=COMM)
    logger = model.fit(resume=resume)
    weights = problem.get_weights(model.sess)
    model.close()
    return {k: v for k, v in logger.items() if k not in ("time", "total_time")}, weights, model


def main():
    for name, settings in CASES.items():
        folder = COMM.bcast(tempfile.mkdtemp(prefix="hl-mpi-ck-") if RANK == 0 else None, root=0)
        os.chdir(folder)
        logger, weights, model = fit(settings, resume=False)
        COMM.Barrier()
        directory = model._checkpoint_directory
        saved = checkpoint_paths(directory, model._logger_file)
        check(f"{name}: the newest two checkpoints kept", len(saved) == 2, str(saved))
        COMM.Barrier()  # every rank has looked before rank 0 removes one
        if RANK == 0:
            os.remove(saved[-1])
        COMM.Barrier()
        resumed, resumed_weights, _ = fit(settings, resume=True)
        check(f"{name}: resumed weights equal the uninterrupted run's",
              np.array_equal(resumed_weights, weights))
        same = all(repr(resumed[k]) == repr(logger[k]) for k in logger) and set(resumed) == set(logger)
        check(f"{name}: resumed logger equals the uninterrupted run's", same)
        COMM.Barrier()
        if RANK == 0:
            os.chdir(os.path.dirname(folder))
            shutil.rmtree(folder)
        COMM.Barrier()
    done("case_checkpoint")

if __name__ == "__main__":
    main()
