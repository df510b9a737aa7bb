"""Reduction and MPI helpers in one process (no mpiexec): the comm=None paths and input checks.

The data-parallel behaviour itself is tested under ``mpiexec -n 2`` in tests/test_mpi.py.
"""
import numpy as np
import pytest

from hessianlearn import tf
from hessianlearn.utilities.mpi import (check_agreement, check_communicator, check_identical,
                                        run_collectively, synchronized_generator)
from hessianlearn.utilities.reduction import (count_samples, evaluate, global_sample_count,
                                              partition_feed, register_derived)


def test_evaluate_without_comm_is_sess_run():
    x = tf.placeholder(tf.float64, [None, 2])
    mean = tf.reduce_mean(x, axis=0)
    norm = tf.norm(mean)
    register_derived(norm, [mean], np.linalg.norm)
    data = np.array([[1.0, 2.0], [3.0, 6.0]])
    with tf.Session() as sess:
        out = evaluate(sess, {"m": mean, "n": norm}, {x: data})
    np.testing.assert_array_equal(out["m"], [2.0, 4.0])
    assert out["n"] == np.linalg.norm([2.0, 4.0])


def test_count_samples_only_counts_batch_placeholders():
    x = tf.placeholder(tf.float64, [None, 3])
    y = tf.placeholder(tf.float64, [None])
    dw = tf.placeholder(tf.float64, [7])
    assert count_samples({x: np.zeros((5, 3)), y: np.zeros(5), dw: np.zeros(7)}) == 5
    assert count_samples({dw: np.zeros(7)}) is None
    with pytest.raises(ValueError, match="different numbers of samples"):
        count_samples({x: np.zeros((5, 3)), y: np.zeros(4)})


def test_partition_feed_matches_array_split():
    x = tf.placeholder(tf.float64, [None, 1])
    dw = tf.placeholder(tf.float64, [2])
    data = np.arange(7.0)[:, None]
    feeds, fractions = partition_feed({x: data, dw: np.ones(2)}, 3)
    for piece, expected in zip(feeds, np.array_split(data, 3)):
        np.testing.assert_array_equal(piece[x], expected)
        np.testing.assert_array_equal(piece[dw], np.ones(2))
    assert fractions == [3 / 7, 2 / 7, 2 / 7]
    assert global_sample_count({x: data}) == 7
    with pytest.raises(ValueError, match="parts must be an int between 1 and"):
        partition_feed({x: data}, 8)


def test_helpers_without_comm():
    assert check_communicator(None) is None
    with pytest.raises(TypeError, match="comm must be an mpi4py communicator"):
        check_communicator(object())
    check_agreement(None, {"a": 1})
    check_identical(None, np.zeros(3))
    assert run_collectively(None, lambda a: a + 1, 1) == 2
    with pytest.raises(ValueError, match="boom"):
        run_collectively(None, lambda: (_ for _ in ()).throw(ValueError("boom")))
    np.testing.assert_array_equal(synchronized_generator(None, 3).standard_normal(4),
                                  np.random.default_rng(3).standard_normal(4))
