"""Data checks what it is fed: placeholder shapes, numeric dtypes, NaN/inf, one MPI agreement."""
import re

import numpy as np
import pytest

from hessianlearn._tf import tf
from hessianlearn.data import Data
from hessianlearn.data import data as data_module


@pytest.fixture(scope="module")
def placeholders():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 784], name="x")
        y = tf.placeholder(tf.float32, [None, 1], name="y_true")
        label = tf.placeholder(tf.int32, [None], name="label")
        free = tf.placeholder(tf.float32, None, name="free")
        total = tf.reduce_sum(x) + tf.reduce_sum(y)
    return graph, x, y, label, free, total


def test_images_not_flattened_name_placeholder_expected_and_given_shape(placeholders):
    _, x, y, *_ = placeholders
    images = np.zeros((30, 28, 28), dtype=np.uint8)
    expected = (r"'data'\['x:0'\] has shape \(30, 28, 28\) \(per sample \(28, 28\)\), but its "
                r"placeholder 'x:0' expects shape \(None, 784\) \(per sample \(784,\).*"
                r"array\.reshape\(-1, 784\)")
    with pytest.raises(ValueError, match=expected):
        Data({x: images, y: np.zeros((30, 1))}, 4, validation_data_size=5)


@pytest.mark.parametrize("shape, given", [((30, 783), r"\(30, 783\)"), ((30,), r"\(30,\)"),
                                          ((30, 784, 1), r"\(30, 784, 1\)")])
def test_wrong_trailing_shape_or_rank_raises(placeholders, shape, given):
    _, x, y, *_ = placeholders
    with pytest.raises(ValueError, match=rf"'data'\['x:0'\] has shape {given}.*\(None, 784\)"):
        Data({x: np.zeros(shape), y: np.zeros((30, 1))}, 4, validation_data_size=5)


def test_column_labels_for_a_vector_placeholder(placeholders):
    _, x, _, label, *_ = placeholders
    with pytest.raises(ValueError, match=r"'data'\['label:0'\] has shape \(30, 1\).*expects shape "
                                         r"\(None,\).*array\.reshape\(-1\)"):
        Data({x: np.zeros((30, 784)), label: np.zeros((30, 1), dtype=np.int32)}, 4,
             validation_data_size=5)


def test_validation_data_is_checked_against_the_placeholder_too(placeholders):
    _, x, y, *_ = placeholders
    good = {x: np.zeros((30, 784)), y: np.zeros((30, 1))}
    bad = {x: np.zeros((10, 28, 28)), y: np.zeros((10, 1))}
    with pytest.raises(ValueError, match=r"'validation_data'\['x:0'\] has shape \(10, 28, 28\).*"
                                         r"\(None, 784\)"):
        Data(good, 4, validation_data=bad)


def test_fitting_arrays_are_accepted_and_feed(placeholders):
    graph, x, y, label, free, total = placeholders
    data = Data({x: np.ones((30, 784)), y: np.ones((30, 1)), label: np.arange(30, dtype=np.int32),
                 free: np.ones((30, 2, 3))}, 4, validation_data_size=5)
    with tf.Session(graph=graph) as sess:
        batch = next(data.train)
        assert sess.run(total, feed_dict={x: batch[x], y: batch[y]}) == 4 * 785.0


@pytest.mark.parametrize("value, dtype", [
    (np.array(["a"] * 20), "<U1"),
    (np.array([object()] * 20), "object"),
    (np.array(["2020-01-01"] * 20, dtype="datetime64[D]"), "datetime64"),
])
def test_non_numeric_arrays_raise(value, dtype):
    with pytest.raises(ValueError, match=rf"'data'\['y'\] has dtype {re.escape(dtype)}.*not numeric"):
        Data({"x": np.zeros((20, 2)), "y": value}, 4, validation_data_size=2)


def test_ragged_lists_raise_a_named_value_error():
    with pytest.raises(ValueError, match=r"'data'\['y'\] cannot be read as one numeric array"):
        Data({"x": np.zeros((3, 2)), "y": [[1.0], [1.0, 2.0], [3.0]]}, 1, validation_data_size=1)


def test_bool_int_and_complex_arrays_are_numeric():
    data = Data({"b": np.ones(10, dtype=bool), "i": np.arange(10), "c": np.ones(10, dtype=complex)},
                2, validation_data_size=2)
    assert next(data.train)["b"].dtype == bool


# ---------------------------------------------------------------------------
# NaN and inf
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("argument", ["data", "validation_data"])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_names_the_array_and_the_first_bad_index(argument, bad_value):
    x = np.zeros((20, 3, 2), dtype=np.float32)
    x[7, 2, 1] = bad_value
    x[12, 0, 0] = bad_value
    clean = {"x": np.zeros((20, 3, 2), dtype=np.float32), "y": np.zeros(20)}
    dirty = {"x": x, "y": np.zeros(20)}
    pattern = rf"'{argument}'\['x'\] contains 2 NaN or inf entries, the first at index \[7, 2, 1\]"
    with pytest.raises(ValueError, match=pattern):
        if argument == "data":
            Data(dirty, 4, validation_data_size=2)
        else:
            Data(clean, 4, validation_data=dirty)


def test_first_bad_index_is_found_across_scan_blocks(monkeypatch):
    monkeypatch.setattr(data_module, "_FINITE_CHUNK", 6)   # blocks of 3 samples of 2 entries
    x = np.zeros((20, 2))
    x[10, 1] = x[19, 0] = np.nan
    with pytest.raises(ValueError, match=r"contains 2 NaN or inf entries, the first at index \[10, 1\]"):
        Data({"x": x}, 4, validation_data_size=2)
    y = np.zeros(20)
    y[[4, 5, 17]] = np.inf
    with pytest.raises(ValueError, match=r"'data'\['y'\] contains 3 NaN or inf entries, the first at "
                                         r"index \[4\]"):
        Data({"x": np.zeros((20, 2)), "y": y}, 4, validation_data_size=2)


def test_check_finite_false_accepts_and_keeps_the_values():
    x = np.arange(40.0).reshape(20, 2)
    x[3, 1] = np.nan
    data = Data({"x": x}, 20, validation_data=dict(x=x[:5]), check_finite=False, shuffle=False)
    assert data.check_finite is False
    np.testing.assert_array_equal(next(data.train)["x"], x)        # NaN compares equal here
    np.testing.assert_array_equal(data.validation["x"], x[:5])
    with pytest.raises(TypeError, match="'check_finite' must be True or False"):
        Data({"x": x}, 4, validation_data_size=2, check_finite="no")


def test_integer_arrays_are_not_scanned_and_checks_leave_the_callers_arrays_untouched():
    x = np.arange(60.0).reshape(20, 3)
    y = np.arange(20)
    before = x.copy(), y.copy()
    flags = x.flags.writeable, y.flags.writeable
    Data({"x": x, "y": y}, 4, validation_data_size=3, seed=2)
    bad = x.copy()
    bad[5, 0] = np.nan
    bad_before = bad.copy()
    with pytest.raises(ValueError):
        Data({"x": bad, "y": y}, 4, validation_data_size=3)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(y, before[1])
    np.testing.assert_array_equal(bad, bad_before)
    assert (x.flags.writeable, y.flags.writeable) == flags


# ---------------------------------------------------------------------------
# the one MPI agreement (fake communicators: one collective, all facts in it)
# ---------------------------------------------------------------------------
class RecordingComm:
    """A two-rank communicator seen from rank 0; the other rank sends ``other(value)``."""

    def __init__(self, other=lambda value: value):
        self.other = other
        self.calls = 0

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 2

    def allgather(self, value):
        self.calls += 1
        return [value, self.other(value)]


def test_construction_takes_part_in_exactly_one_collective():
    comm = RecordingComm()
    Data({"x": np.zeros((20, 2))}, 4, validation_data_size=4, hessian_batch_size=2, comm=comm)
    assert comm.calls == 1


def test_seed_none_is_caught_by_the_seed_entropy():
    """Fresh entropy per rank: the other rank's entropy differs."""
    comm = RecordingComm(lambda value: value[:4] + (value[4] + 1,))
    with pytest.raises(ValueError, match="disagree on the seed's entropy"):
        Data({"x": np.zeros((20, 2))}, 4, validation_data_size=4, seed=None, comm=comm)
    assert comm.calls == 1


def test_bad_seed_and_bad_arrays_raise_after_the_collective():
    """Every rank reaches the collective before any local check raises."""
    for kwargs in (dict(seed=-1), dict(check_finite=1)):
        comm = RecordingComm()
        with pytest.raises((ValueError, TypeError), match="'seed'|'check_finite'"):
            Data({"x": np.zeros((20, 2))}, 4, validation_data_size=4, comm=comm, **kwargs)
        assert comm.calls == 1
    comm = RecordingComm()
    with pytest.raises(ValueError, match="NaN"):
        Data({"x": np.full((20, 2), np.nan)}, 4, validation_data_size=4, comm=comm)
    assert comm.calls == 1


def test_ranks_disagreeing_on_check_finite_are_detected():
    comm = RecordingComm(lambda value: value[:3] + (value[3].replace("True)", "False)"),) + value[4:])
    with pytest.raises(ValueError, match="disagree on other settings.*check_finite"):
        Data({"x": np.zeros((20, 2))}, 4, validation_data_size=4, comm=comm)
