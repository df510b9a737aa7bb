"""utilities/session_callables.run gives what Session.run gives, errors included."""
import numpy as np
import pytest

from hessianlearn import tf
from hessianlearn.utilities.session_callables import run


@pytest.fixture
def graph():
    x = tf.placeholder(tf.float64, [None, 3], name="x")
    a = tf.placeholder(tf.float64, [], name="a")
    counter = tf.Variable(0.0, dtype=tf.float64, use_resource=True)
    total = tf.reduce_sum(x) * a
    increment = counter.assign_add(1.0)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    yield sess, x, a, total, increment, counter
    sess.close()


def test_results_equal_session_run_for_every_fetch_structure(graph):
    sess, x, a, total, increment, counter = graph
    feed = {x: np.arange(6.0).reshape(2, 3), a: 2}  # an int for a float placeholder
    for fetches in (total, [total, x], {"t": total, "nested": [x, {"a": a}]}, (total,)):  # x, a fed
        expected = sess.run(fetches, feed)
        got = run(sess, fetches, feed)
        for e, g in zip(tf.nest.flatten(expected), tf.nest.flatten(got)):
            np.testing.assert_array_equal(g, e)
        assert type(got) is type(expected)
    assert run(sess, {"op": increment.op, "t": total}, feed)["op"] is None
    assert sess.run(counter) == 1.0  # the operation ran once
    assert len(sess._hessianlearn_callables) == 5  # one entry per structure, reused


def test_bad_input_gets_session_run_errors(graph):
    sess, x, a, total, *_ = graph
    with pytest.raises(ValueError, match="shape"):
        run(sess, total, {x: np.ones((2, 4)), a: 1.0})
    with pytest.raises(tf.errors.InvalidArgumentError):
        run(sess, total, {x: np.ones((2, 3))})  # a not fed
    assert run(sess, total, {"x:0": np.ones((2, 3)), a: 1.0}) == 6.0  # names go to sess.run
    sess.close()
    with pytest.raises(RuntimeError, match="closed"):
        run(sess, total, {x: np.ones((2, 3)), a: 1.0})


def test_fed_arrays_are_not_modified(graph):
    sess, x, a, total, *_ = graph
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    before = value.copy()
    assert run(sess, total, {x: value, a: 1.0}) == 15.0
    np.testing.assert_array_equal(value, before)
