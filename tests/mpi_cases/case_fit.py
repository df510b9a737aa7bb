"""Under MPI: full fits (LRSFN, Newton-CG) on 2 ranks give the single-process logger values.

Each rank runs ``HessianlearnModel.fit`` twice: without a communicator on the whole data
(the single-process run) and with ``comm=COMM`` on ``Data(..., comm=COMM)`` shards, with
``debug`` on (weights checked identical on all ranks after every step). Every logged
number except the timings must agree to round-off; only rank 0 writes the logger file.
"""
import os
import shutil
import tempfile

import numpy as np

from _harness import COMM, RANK, check, check_close, done, new_graph, tiny_regression_network
from hessianlearn.data import Data
from hessianlearn.model import HessianlearnModel
from hessianlearn.problem import L2Regularization, RegressionProblem

#: Timings differ between runs; the settings differ in save_logger and problem_name.
IGNORED = {"time", "total_time", "settings", "problem_name"}


def _numeric(x):
    return not isinstance(x, (str, bytes, dict)) and x is not None and np.asarray(x).dtype.kind in "fiub"


def compare(label, a, b):
    """Every entry equal: numbers to round-off (NaN where NaN), everything else by repr."""
    for key in sorted(set(a) | set(b), key=str):
        if key in IGNORED:
            continue
        check(f"{label}: logger has {key!r} in both", key in a and key in b)
        x, y = a[key], b[key]
        if isinstance(x, dict):
            check(f"{label}: {key} keys", sorted(x, key=str) == sorted(y, key=str), f"{x} vs {y}")
            compare(f"{label}: {key}", x, y)
        elif _numeric(x) and _numeric(y):
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            check(f"{label}: {key} same shape and NaNs", x.shape == y.shape
                  and np.array_equal(np.isnan(x), np.isnan(y)))
            if np.any(np.isfinite(y)):
                check_close(f"{label}: {key}", x[np.isfinite(y)], y[np.isfinite(y)], 1e-9)
        else:
            check(f"{label}: {key} equal", repr(x) == repr(y), f"{x!r} vs {y!r}")


def fit(settings, comm):
    new_graph()
    problem = RegressionProblem(tiny_regression_network(), hessian_block_size=4)
    regularization = L2Regularization(problem, 1e-3)
    rng = np.random.default_rng(11)
    X = rng.standard_normal((40, 3))
    Y = np.stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.cos(X[:, 1])], axis=1)
    data = Data({problem.x: X, problem.y_true: Y}, batch_size=16, hessian_batch_size=8,
                validation_data_size=8, seed=4, comm=comm)
    model = HessianlearnModel(problem, regularization, data, settings=dict(settings), comm=comm)
    logger = model.fit()
    model.close()
    return logger, model


def main():
    workdir = tempfile.mkdtemp(prefix=f"mpi_fit_{RANK}_") if RANK == 0 else None
    workdir = COMM.bcast(workdir, root=0)
    os.chdir(workdir)
    # fused_step False: the single process takes the reference path that MPI runs ('auto'
    # would take the fused one there, with test matrices drawn in the graph)
    common = dict(max_sweeps=12.0, verbose=False, intra_threads=1, inter_threads=1,
                  validate_frequency=1.0, debug=True, seed=3, fused_step=False)
    for label, settings in [
        ("lrsfn", dict(optimizer="lrsfn", hessian_low_rank=4, oversample=2, alpha=0.1)),
        ("incg", dict(optimizer="incg", globalization="line_search", alpha=1.0)),
    ]:
        settings.update(common)
        name = f"fit_{label}"
        single, _ = fit(dict(settings, save_logger=False), None)
        parallel, model = fit(dict(settings, save_logger=True, problem_name=name), COMM)
        check(f"{label}: {len(single['train_loss'])} iterations, status {parallel['status']}",
              parallel["status"] == single["status"] and len(single["train_loss"]) > 2)
        compare(label, parallel, single)
        COMM.Barrier()
        written = os.listdir(f"{name}_logging") if os.path.isdir(f"{name}_logging") else []
        check(f"{label}: only rank 0 saved a logger", (model.logger_path is not None) == (RANK == 0)
              and len(written) >= 1, f"{model.logger_path} {written}")


if __name__ == "__main__":
    here = os.getcwd()
    main()
    COMM.Barrier()
    if RANK == 0:
        scratch = os.getcwd()
        os.chdir(here)
        shutil.rmtree(scratch, ignore_errors=True)
    done(__file__)
