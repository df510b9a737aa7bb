"""Workloads of hessianlearn.lab and the Fashion-MNIST and CIFAR loaders, on tiny files the tests write."""
import gzip
import os
import pickle

import numpy as np
import pytest

import hessianlearn as hl



def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fashion_folder(folder, n_train=40, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": np.arange(n_test) % 10}
    os.makedirs(folder, exist_ok=True)
    for name, array in arrays.items():
        _write_idx(os.path.join(folder, name + ".gz"), array, 2051 if array.ndim == 3 else 2049)
    return arrays


def test_fashion_mnist_loader_reads_idx_files(tmp_path):
    arrays = _fashion_folder(tmp_path)
    (x_train, y_train), (x_test, y_test) = hl.load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert x_train.dtype == np.uint8 and x_test.shape == (20, 28, 28) and y_train.shape == (40,)


def test_fashion_mnist_loader_errors_name_the_package_or_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(hl.data.fashion_mnist, "FASHION_MNIST_FOLDER", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        hl.load_fashion_mnist()
    with pytest.raises(FileNotFoundError, match="not a folder"):
        hl.load_fashion_mnist(tmp_path / "nowhere")
    _fashion_folder(tmp_path / "f")
    os.remove(tmp_path / "f" / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="load_fashion_mnist: .*t10k-labels-idx1-ubyte"):
        hl.load_fashion_mnist(tmp_path / "f")
    _write_idx(tmp_path / "f" / "t10k-labels-idx1-ubyte.gz", np.zeros((20, 28, 28)), 2051)
    with pytest.raises(ValueError, match="load_fashion_mnist: .*magic number"):
        hl.load_fashion_mnist(tmp_path / "f")


def _cifar10_folder(folder, per_batch=4, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    images = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8)
        labels = list(rng.integers(0, 10, per_batch))
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": [int(v) for v in labels], b"data": data,
                         b"filenames": [b"x.png"] * per_batch}, f)
        images.append((data, labels))
    return images


def test_cifar_loader_reads_python_batches_in_channel_last_order(tmp_path):
    batches = _cifar10_folder(tmp_path)
    (x_train, y_train), (x_test, y_test) = hl.load_cifar(tmp_path, classes=10)
    assert x_train.shape == (20, 32, 32, 3) and x_test.shape == (4, 32, 32, 3) and x_train.dtype == np.uint8
    data, labels = batches[0]
    # row layout: 1024 red, 1024 green, 1024 blue values, each image row-major
    assert x_train[1, 2, 3, 0] == data[1, 2 * 32 + 3] and x_train[1, 2, 3, 2] == data[1, 2048 + 2 * 32 + 3]
    np.testing.assert_array_equal(y_train[:4], labels)
    np.testing.assert_array_equal(x_test.reshape(4, -1)[:, :5], batches[-1][0].reshape(4, 3, 32, 32)
                                  .transpose(0, 2, 3, 1).reshape(4, -1)[:, :5])


def test_cifar_loader_npz_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (6, 32, 32, 3)).astype(np.uint8),
              "y_train": rng.integers(0, 100, (6, 1)), "x_test": np.zeros((2, 32, 32, 3), np.uint8),
              "y_test": np.array([[3], [99]])}
    np.savez(tmp_path / "c.npz", **arrays)
    (x_train, y_train), (_, y_test) = hl.load_cifar(tmp_path / "c.npz", classes=100)
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, [3, 99])
    with pytest.raises(ValueError, match="labels outside 0..9"):
        hl.load_cifar(tmp_path / "c.npz", classes=10)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        hl.load_cifar(None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hl.load_cifar(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="lacks .*data_batch_1"):
        hl.load_cifar(tmp_path, classes=10)
    with pytest.raises(ValueError, match="'classes' must be 10 or 100"):
        hl.load_cifar(tmp_path, classes=20)


def _fit(workload, optimizer="adam", sweeps=0.5, **settings):
    model = hl.HessianlearnModel(workload.problem, workload.regularization, workload.data,
                                 settings={**workload.settings_for(optimizer), "optimizer": optimizer,
                                           "max_sweeps": sweeps, "verbose": False, "save_logger": False,
                                           **settings})
    logger = model.fit()
    model.close()
    return logger


def _reset(seed=0):
    hl.tf.reset_default_graph()
    hl.keras.backend.clear_session()
    hl.tf.set_random_seed(seed)


def test_conv_autoencoder_has_the_papers_architecture_and_trains():
    _reset()
    workload = hl.build_workload("mnist_conv_autoencoder", train_size=64, validation_size=32,
                                 hessian_batch_size=16)
    layers = workload.problem.NN.layers[1:]
    assert [(type(l).__name__, l.filters, l.kernel_size) for l in layers] == [
        ("Conv2D", 4, (8, 8)), ("Conv2D", 4, (4, 4)), ("Conv2DTranspose", 4, (4, 4)), ("Conv2DTranspose", 1, (8, 8))]
    assert workload.problem.dimension == 4 * 64 + 4 + 16 * 16 + 4 + 16 * 16 + 4 + 64 * 4 + 1
    assert workload.data.batch_size == 64 and workload.data.hessian_batch_size == 16  # the whole slice
    assert workload.regularization.gamma == 0.1
    assert workload.settings == {"hessian_low_rank": 20, "globalization": "line_search"}
    logger = _fit(workload, "gd", sweeps=3.0)  # full-batch gradient descent with the line search
    assert logger["val_loss"][max(logger["val_loss"])] < logger["initial_val_loss"]
    # standard-normal initial weights drawn with seed 0, whatever the run's seed
    _reset(5)
    other = hl.build_workload("mnist_conv_autoencoder", seed=5, train_size=64, validation_size=32,
                              hessian_batch_size=16)
    with hl.tf.Session(graph=other.problem._graph) as sess:
        sess.run(hl.tf.global_variables_initializer())
        w = other.problem.get_weights(sess)
    assert abs(np.std(w) - 1.0) < 0.1 and abs(np.mean(w)) < 0.1


def test_dense_autoencoder_is_tutorial_0s_network():
    _reset()
    workload = hl.build_workload("mnist_autoencoder", train_size=100, validation_size=20)
    assert workload.problem.dimension == 2 * 784 * 32 + 32 + 784
    assert (workload.data.batch_size, workload.data.hessian_batch_size) == (32, 8)
    assert workload.settings_for("lrsfn") == {"hessian_low_rank": 40, "alpha": 5e-2}
    assert workload.settings_for("adam")["alpha"] == 1e-3
    with pytest.raises(ValueError, match="train_size = 70000 is larger than the 60000 training images"):
        hl.build_workload("mnist_autoencoder", train_size=70000)


def test_fashion_mnist_cnn_trains_on_tiny_files(tmp_path):
    _fashion_folder(tmp_path, n_train=64, n_test=32)
    _reset()
    workload = hl.build_workload("fashion_mnist_cnn", fashion_mnist_path=str(tmp_path), batch_size=16,
                                 hessian_batch_size=8)
    assert workload.has_accuracy
    logger = _fit(workload, "adam", sweeps=2.0, alpha=1e-2)
    assert logger["val_loss"][max(logger["val_loss"])] < logger["initial_val_loss"]
    assert "val_acc" in logger and logger["val_acc"]


def test_transfer_workload_errors_name_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_path= \\(--data PATH\\)"):
        hl.cifar_transfer()
    _cifar10_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded here; pass weights=PATH"):
        hl.cifar_transfer(str(tmp_path), weights="imagenet")
    with pytest.raises(FileNotFoundError, match="weights file .* does not exist"):
        hl.cifar_transfer(str(tmp_path), weights=str(tmp_path / "w.h5"))
    with pytest.raises(ValueError, match="unknown backbone 'ResNet18'.*'ResNet50'"):
        hl.cifar_transfer(str(tmp_path), backbone="ResNet18")


@pytest.mark.slow  # builds a ResNet50 graph
def test_transfer_workload_freezes_the_resnet50_backbone_and_trains_the_head(tmp_path):
    _cifar10_folder(tmp_path, per_batch=4)
    _reset()
    workload = hl.cifar_transfer(str(tmp_path), weights="none", validation_size=4, batch_size=8,
                                 hessian_batch_size=4, hidden=8)
    assert workload.problem.dimension == 2048 * 8 + 8 + 8 * 10 + 10  # only the head is trained
    logger = _fit(workload, "adam", sweeps=2.0, alpha=1e-2)
    assert logger["train_loss"][max(logger["train_loss"])] < logger["train_loss"][0]
