"""Properties of hessianlearn.data.Data and partition_dictionary."""
import numpy as np
import pytest

from hessianlearn.data import Data, partition_dictionary


class FakeComm:
    """Just enough of an mpi4py communicator for one simulated rank."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size

    def allgather(self, value):
        return [value] * self.size


def make_arrays(n=50, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    x = rng.standard_normal((n, 3, 2))
    y = rng.standard_normal((n, 4)).astype(np.float32)
    return {"ids": ids, "x": x, "y": y}


def take(iterator, k):
    return [next(iterator) for _ in range(k)]


def ids_of(batches):
    return [b["ids"].tolist() for b in batches]


# ---------------------------------------------------------------------------
# split and epochs
# ---------------------------------------------------------------------------
def test_split_is_disjoint_complete_and_consistent_across_keys():
    arrays = make_arrays()
    data = Data(arrays, 5, validation_data_size=12, seed=3)
    assert data.train_data_size == 38 and data.validation_data_size == 12
    val_ids = data.validation["ids"]
    assert len(val_ids) == 12
    train_ids = data._train_arrays["ids"]
    assert set(val_ids).isdisjoint(train_ids)
    assert sorted(np.concatenate([val_ids, train_ids])) == list(range(50))
    # rows stay aligned across keys
    np.testing.assert_array_equal(data.validation["x"], arrays["x"][val_ids])
    batch = next(data.train)
    np.testing.assert_array_equal(batch["y"], arrays["y"][batch["ids"]])


def test_each_training_sample_exactly_once_per_epoch():
    for batch_size in (1, 5, 7, 38):
        data = Data(make_arrays(), batch_size, validation_data_size=12, seed=1)
        n = data.train_data_size
        stream = np.concatenate(ids_of(take(data.train, 5 * n // batch_size)) or [[]])
        train_ids = sorted(data._train_arrays["ids"])
        for e in range(len(stream) // n):
            assert sorted(stream[e * n:(e + 1) * n]) == train_ids
        # every batch has full size and no repeated sample
        data.reset()
        for batch in take(data.train, 20):
            assert len(batch["ids"]) == batch_size
            assert len(set(batch["ids"])) == batch_size


def test_epochs_are_reshuffled_and_shuffle_false_keeps_order():
    data = Data(make_arrays(), 10, validation_data_size=10, seed=0)
    stream = np.concatenate(ids_of(take(data.train, 8)))
    assert not np.array_equal(stream[:40], stream[40:])
    ordered = Data(make_arrays(), 10, validation_data_size=10, seed=0, shuffle=False)
    stream = np.concatenate(ids_of(take(ordered.train, 8)))
    train_ids = np.sort(ordered._train_arrays["ids"])
    np.testing.assert_array_equal(stream, np.concatenate([train_ids, train_ids]))


def test_epoch_counter_and_max_epochs_stop():
    data = Data(make_arrays(40), 10, validation_data_size=10, max_epochs=2)
    # 30 training samples, batch 10: 3 batches per epoch, 6 in two epochs
    assert data.epoch == 0
    batches = list(data.train)
    assert len(batches) == 6
    assert data.epoch == 2
    with pytest.raises(StopIteration):
        next(data.train)
    # a fractional budget: 1.5 epochs of 30 samples = 45 -> 4 full batches of 10
    half = Data(make_arrays(40), 10, validation_data_size=10, max_epochs=1.5)
    assert len(list(half.train)) == 4


def test_same_seed_same_batches_different_seed_different():
    a = Data(make_arrays(), 6, validation_data_size=8, hessian_batch_size=4, seed=7)
    b = Data(make_arrays(), 6, validation_data_size=8, hessian_batch_size=4, seed=7)
    c = Data(make_arrays(), 6, validation_data_size=8, hessian_batch_size=4, seed=8)
    assert ids_of(take(a.train, 20)) == ids_of(take(b.train, 20))
    assert ids_of(take(a.hess_train, 20)) == ids_of(take(b.hess_train, 20))
    np.testing.assert_array_equal(a.validation["ids"], b.validation["ids"])
    assert ids_of(take(a.train, 5)) != ids_of(take(c.train, 5))
    assert not np.array_equal(np.sort(a.validation["ids"]), np.sort(c.validation["ids"]))


def test_reset_replays_the_sequence():
    data = Data(make_arrays(), 7, validation_data_size=8, hessian_batch_size=5,
                variable_batch=True, batch_increment=3, seed=2)
    first = ids_of(take(data.train, 30))
    first_hess = ids_of(take(data.hess_train, 12))
    train_iterator = data.train
    data.reset()
    assert data.train is train_iterator
    assert data.epoch == 0 and data.batch_size == 7
    assert ids_of(take(data.train, 30)) == first
    assert ids_of(take(data.hess_train, 12)) == first_hess


def test_hessian_batches_come_from_the_training_set():
    data = Data(make_arrays(), 6, validation_data_size=10, hessian_batch_size=9, seed=4)
    train_ids = set(data._train_arrays["ids"])
    hess = take(data.hess_train, 30)
    for batch in hess:
        assert len(batch["ids"]) == 9 and len(set(batch["ids"])) == 9
        assert set(batch["ids"]) <= train_ids
    # its own stream: different from the training batches
    data.reset()
    assert ids_of(take(data.train, 3)) != [b[:6] for b in ids_of(hess[:3])]
    # and it covers the training set evenly (40 samples, 9 per batch)
    stream = np.concatenate(ids_of(hess))
    assert sorted(stream[:40]) == sorted(train_ids)
    assert Data(make_arrays(), 6, validation_data_size=10).hess_train is None
    assert Data(make_arrays(), 6, validation_data_size=10, hessian_batch_size=0).hess_train is None


def test_batch_factor():
    data = Data(make_arrays(), 8, validation_data_size=10, hessian_batch_size=4)
    assert data.batch_factor == [8 / 40, 4 / 40]
    assert data.batch_size == 8 and data.hessian_batch_size == 4
    assert Data(make_arrays(), 8, validation_data_size=10).batch_factor == [0.2, 0.0]


def test_variable_batch_grows_each_epoch_and_is_capped():
    data = Data(make_arrays(30), 4, validation_data_size=10, variable_batch=True,
                batch_increment=6, max_epochs=5)
    sizes, epochs_at_start = [], []
    for batch in data.train:
        sizes.append(len(batch["ids"]))
        assert data.batch_size == sizes[-1]
        assert data.batch_factor[0] == sizes[-1] / 20
    # a batch starting in epoch e has min(20, 4 + 6 e) samples
    served, expected = 0, []
    while True:
        size = min(20, 4 + 6 * (served // 20))
        if served + size > 5 * 20:
            break
        expected.append(size)
        served += size
    assert sizes == expected
    assert max(sizes) == 20 and sizes[0] == 4
    default = Data(make_arrays(30), 4, validation_data_size=10, variable_batch=True)
    sizes = [len(b["ids"]) for b in take(default.train, 8)]
    assert sizes == [4] * 5 + [8] * 3  # increment defaults to batch_size


def test_given_validation_data():
    train = make_arrays(30, seed=1)
    val = make_arrays(12, seed=2)
    val["ids"] = val["ids"] + 100
    data = Data(train, 5, validation_data=val, seed=0)
    assert data.train_data_size == 30 and data.validation_data_size == 12
    np.testing.assert_array_equal(data.validation["x"], val["x"])
    first = Data(train, 5, validation_data=val, validation_data_size=4)
    np.testing.assert_array_equal(first.validation["ids"], val["ids"][:4])


def test_caller_arrays_untouched_and_not_shared():
    arrays = make_arrays()
    val = make_arrays(10, seed=5)
    copies = {k: v.copy() for k, v in arrays.items()}
    val_copies = {k: v.copy() for k, v in val.items()}
    for kwargs in ({"validation_data_size": 10}, {"validation_data": val}):
        data = Data(arrays, 7, hessian_batch_size=5, **kwargs)
        for batch in take(data.train, 20) + take(data.hess_train, 5):
            for value in batch.values():
                value[...] = 0  # batches are the caller's to scribble on
        for key in arrays:
            np.testing.assert_array_equal(arrays[key], copies[key])
            np.testing.assert_array_equal(val[key], val_copies[key])
            assert arrays[key].flags.writeable and arrays[key].flags.c_contiguous
            assert not np.shares_memory(data._train_arrays[key], arrays[key])
            assert not np.shares_memory(data.validation[key], arrays[key])
        assert list(arrays) == ["ids", "x", "y"]


def test_verbose_prints_a_summary_only_on_rank_zero(capsys):
    Data(make_arrays(), 5, validation_data_size=10, verbose=True)
    assert "40 training, 10 validation" in capsys.readouterr().out
    Data(make_arrays(), 5, validation_data_size=10, verbose=True, comm=FakeComm(1, 2))
    assert capsys.readouterr().out == ""


def test_works_with_placeholder_like_keys():
    class Placeholder:
        def __init__(self, name):
            self.name = name

    x, y = Placeholder("x:0"), Placeholder("y:0")
    data = Data({x: np.zeros((20, 2)), y: np.ones(20)}, 4, validation_data_size=4)
    assert set(next(data.train)) == {x, y}
    bad = np.zeros((20, 2))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"'x:0'.*1 NaN"):
        Data({x: bad, y: np.ones(20)}, 4, validation_data_size=4)


# ---------------------------------------------------------------------------
# MPI sharding with a fake communicator
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shards_concatenate_to_the_single_process_batch(size):
    kwargs = dict(validation_data_size=11, hessian_batch_size=7, seed=5,
                  variable_batch=True, batch_increment=5, max_epochs=4)
    single = Data(make_arrays(), 6, **kwargs)
    ranks = [Data(make_arrays(), 6, comm=FakeComm(r, size), **kwargs) for r in range(size)]
    reference = list(single.train)
    sharded = [list(d.train) for d in ranks]
    assert all(len(s) == len(reference) for s in sharded)
    for i, batch in enumerate(reference):
        for key in batch:
            joined = np.concatenate([sharded[r][i][key] for r in range(size)])
            np.testing.assert_array_equal(joined, batch[key])
        expected = np.array_split(batch["ids"], size)
        for r in range(size):
            np.testing.assert_array_equal(sharded[r][i]["ids"], expected[r])
    # shard weights of the last batch
    total = len(reference[-1]["ids"])
    fractions = [d.local_batch_fraction for d in ranks]
    assert fractions == [len(p) / total for p in np.array_split(np.arange(total), size)]
    assert sum(fractions) == pytest.approx(1.0)
    for d in ranks:
        assert d.batch_factor == single.batch_factor
        assert d.epoch == single.epoch
    for i in range(5):
        hess = next(single.hess_train)
        parts = [next(d.hess_train) for d in ranks]
        for key in hess:
            np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), hess[key])
    for key in single.validation:
        joined = np.concatenate([d.validation[key] for d in ranks])
        np.testing.assert_array_equal(joined, single.validation[key])
    assert sum(d.local_validation_fraction for d in ranks) == pytest.approx(1.0)
    assert sum(d.local_hessian_batch_fraction for d in ranks) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(batch_size=3, validation_data_size=10, hessian_batch_size=8), "batch_size"),
        (dict(batch_size=8, validation_data_size=10, hessian_batch_size=2), "hessian_batch_size"),
        (dict(batch_size=8, validation_data_size=3), "validation_data_size"),
    ],
)
def test_shard_smaller_than_one_sample_per_rank_raises(kwargs, name):
    with pytest.raises(ValueError, match=rf"'{name}' \(\d+\) is smaller than the number of MPI ranks \(4\)"):
        Data(make_arrays(), comm=FakeComm(0, 4), **kwargs)


def test_ranks_that_disagree_are_detected():
    class Disagreeing(FakeComm):
        def allgather(self, value):
            return [value, value[:2] + (value[2] + 1,) + value[3:]]

    with pytest.raises(ValueError, match="disagree"):
        Data(make_arrays(), 5, validation_data_size=10, comm=Disagreeing(0, 2))
    with pytest.raises(TypeError, match="comm"):
        Data(make_arrays(), 5, validation_data_size=10, comm=object())


def test_partition_dictionary():
    batch = {"a": np.arange(10), "b": np.arange(20).reshape(10, 2)}
    parts = partition_dictionary(batch, 3)
    assert [len(p["a"]) for p in parts] == [4, 3, 3]
    for key in batch:
        np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), batch[key])
    assert partition_dictionary(batch, 1)[0]["a"].tolist() == list(range(10))
    with pytest.raises(ValueError, match="'n' must be between 1 and the number of samples"):
        partition_dictionary(batch, 11)
    with pytest.raises(ValueError, match="'n'"):
        partition_dictionary(batch, 0)
    with pytest.raises(TypeError, match="'n' must be an int"):
        partition_dictionary(batch, 2.0)
    with pytest.raises(TypeError, match="'feed_dict' must be a dict"):
        partition_dictionary([1, 2], 2)
    with pytest.raises(ValueError, match="same first dimension"):
        partition_dictionary({"a": np.arange(3), "b": np.arange(4)}, 2)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def _with(key, value, n=20):
    arrays = {"x": np.zeros((n, 2)), "y": np.zeros(n)}
    arrays[key] = value
    return arrays


@pytest.mark.parametrize(
    "args, kwargs, error, pattern",
    [
        (([1, 2, 3], 2), dict(validation_data_size=1), TypeError, "'data' must be a dict"),
        (({}, 2), dict(validation_data_size=1), ValueError, "'data' is empty"),
        ((_with("y", np.zeros(19)), 2), dict(validation_data_size=2), ValueError,
         r"same first dimension.*'x': 20, 'y': 19"),
        ((_with("y", 3.0), 2), dict(validation_data_size=2), ValueError, r"'data'\['y'\] is a scalar"),
        ((_with("x", np.full((20, 2), np.inf)), 2), dict(validation_data_size=2), ValueError,
         r"'data'\['x'\] contains 40 NaN or inf"),
        ((_with("y", np.array([np.nan] * 3 + [0.0] * 17)), 2), dict(validation_data_size=2),
         ValueError, r"'data'\['y'\] contains 3 NaN"),
        ((_with("x", np.zeros((20, 2))), 2), dict(), ValueError, "give 'validation_data_size'"),
        ((_with("x", np.zeros((20, 2))), 2), dict(validation_data_size=20), ValueError,
         "'validation_data_size' must be between 1 and 19"),
        ((_with("x", np.zeros((20, 2))), 2), dict(validation_data_size=0), ValueError,
         "'validation_data_size' must be between"),
        ((_with("x", np.zeros((20, 2))), 2), dict(validation_data_size=2.5), TypeError,
         "'validation_data_size' must be an int"),
        ((_with("x", np.zeros((20, 2))), 0), dict(validation_data_size=2), ValueError,
         r"'batch_size' must be between 1 and the training set size \(18\)"),
        ((_with("x", np.zeros((20, 2))), 19), dict(validation_data_size=2), ValueError,
         r"'batch_size' must be between 1 and the training set size \(18\), got 19"),
        ((_with("x", np.zeros((20, 2))), 4.0), dict(validation_data_size=2), TypeError,
         "'batch_size' must be an int"),
        ((_with("x", np.zeros((20, 2))), True), dict(validation_data_size=2), TypeError,
         "'batch_size' must be an int"),
        ((_with("x", np.zeros((20, 2))), 4), dict(validation_data_size=2, hessian_batch_size=19),
         ValueError, r"'hessian_batch_size' must be at most the training set size \(18\)"),
        ((_with("x", np.zeros((20, 2))), 4), dict(validation_data_size=2, hessian_batch_size=2.0),
         TypeError, "'hessian_batch_size' must be an int"),
        ((_with("x", np.zeros((20, 2))), 4), dict(validation_data_size=2, batch_increment=2),
         ValueError, "variable_batch=True"),
        ((_with("x", np.zeros((20, 2))), 4),
         dict(validation_data_size=2, variable_batch=True, batch_increment=0),
         ValueError, "'batch_increment' must be a positive int"),
        ((_with("x", np.zeros((20, 2))), 4), dict(validation_data_size=2, max_epochs=0),
         ValueError, "'max_epochs' must be a positive number"),
        ((_with("x", np.zeros((20, 2))), 4), dict(validation_data_size=2, seed=-1),
         ValueError, "'seed'"),
    ],
)
def test_bad_input_raises_named_errors(args, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        Data(*args, **kwargs)


@pytest.mark.parametrize(
    "validation, error, pattern",
    [
        ([1, 2], TypeError, "'validation_data' must be a dict"),
        ({"x": np.zeros((5, 2))}, ValueError, "same keys as 'data'"),
        ({"x": np.zeros((5, 2)), "y": np.zeros(5), "z": np.zeros(5)}, ValueError, "same keys"),
        ({"x": np.zeros((5, 3)), "y": np.zeros(5)}, ValueError,
         r"per-sample shape of 'validation_data'\['x'\] is \(3,\), but 'data' has \(2,\)"),
        ({"x": np.zeros((5, 2)), "y": np.zeros(4)}, ValueError, "same first dimension"),
        ({"x": np.full((5, 2), np.nan), "y": np.zeros(5)}, ValueError,
         r"'validation_data'\['x'\] contains 10 NaN"),
    ],
)
def test_bad_validation_data(validation, error, pattern):
    with pytest.raises(error, match=pattern):
        Data(_with("x", np.zeros((20, 2))), 4, validation_data=validation)
    good = {"x": np.zeros((5, 2)), "y": np.zeros(5)}
    with pytest.raises(ValueError, match=r"between 1 and the size of 'validation_data' \(5\)"):
        Data(_with("x", np.zeros((20, 2))), 4, validation_data=good, validation_data_size=6)


def test_tensorflow_placeholders_as_keys():
    from hessianlearn._tf import tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        y = tf.placeholder(tf.float32, [None], name="y")
        total = tf.reduce_sum(x) + tf.reduce_sum(y)
    data = Data({x: np.ones((12, 2)), y: np.ones(12)}, 3, validation_data_size=2)
    with tf.Session(graph=graph) as sess:
        assert sess.run(total, feed_dict=next(data.train)) == 9.0
        assert sess.run(total, feed_dict=data.validation) == 6.0
    with pytest.raises(ValueError, match=r"'y:0'.*contains 1 NaN"):
        Data({x: np.ones((12, 2)), y: np.r_[np.ones(11), np.nan]}, 3, validation_data_size=2)
