"""Shared helpers of the MPI case scripts (run under ``mpiexec -n 2``, see tests/test_mpi.py).

Every case script checks its properties on every rank and exits non-zero on the
first failure; ``tests/test_mpi.py`` asserts the exit code and the ``PASS`` lines.
"""
import sys

import numpy as np
from mpi4py import MPI

import hessianlearn  # noqa: F401  (graph mode before any keras use)
from hessianlearn import keras, tf

COMM = MPI.COMM_WORLD
RANK = COMM.Get_rank()
SIZE = COMM.Get_size()
RTOL = 1e-10


def relative_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(b), np.finfo(float).tiny)
    return float(np.linalg.norm(a - b) / scale)


def check_close(name, a, b, rtol=RTOL):
    err = relative_error(a, b)
    if not err <= rtol:
        fail(f"{name}: relative error {err:.3e} > {rtol:.0e}")
    report(f"{name} rel.err {err:.2e}")


def check(name, condition, detail=""):
    if not condition:
        fail(f"{name} {detail}")
    report(name)


def expect_error(name, error_type, function, match=""):
    """``function()`` must raise ``error_type`` (message containing ``match``) on this rank."""
    try:
        function()
    except error_type as err:
        if match and match not in str(err):
            fail(f"{name}: message {str(err)!r} lacks {match!r}")
        report(f"{name} -> {error_type.__name__}: {str(err)[:120]}")
        return err
    except Exception as err:  # noqa: BLE001
        fail(f"{name}: expected {error_type.__name__}, got {type(err).__name__}: {err}")
    fail(f"{name}: expected {error_type.__name__}, nothing raised")


def report(message):
    print(f"[rank {RANK}] ok {message}", flush=True)


def fail(message):
    print(f"[rank {RANK}] FAIL {message}", flush=True)
    sys.stdout.flush()
    COMM.Abort(1)


def done(script):
    COMM.Barrier()
    print(f"[rank {RANK}] PASS {script}", flush=True)


def new_graph(seed=1234):
    tf.reset_default_graph()
    keras.backend.clear_session()
    keras.backend.set_floatx("float64")
    tf.set_random_seed(seed)


def tiny_regression_network(n_in=3, n_hidden=4, n_out=2, seed=0):
    """A 3-4-2 tanh network with weights from a seeded numpy generator (equal on all ranks)."""
    inputs = keras.Input(shape=(n_in,), dtype="float64")
    hidden = keras.layers.Dense(n_hidden, activation="tanh")(inputs)
    outputs = keras.layers.Dense(n_out)(hidden)
    return keras.Model(inputs, outputs)


def session_with_weights(problem, seed=0):
    sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1,
                                            inter_op_parallelism_threads=1))
    sess.run(tf.global_variables_initializer())
    w = np.random.default_rng(seed).standard_normal(problem.dimension) * 0.5
    problem.set_weights(sess, w)
    return sess
