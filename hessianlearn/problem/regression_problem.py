"""Least-squares regression: ``f(w) = mean_i mean_j (y_ij - NN(x_i; w)_j)^2``."""
import numpy as np

from .._tf import tf
from ..utilities.reduction import register_derived
from .problem import Problem, squared_error

__all__ = ["RegressionProblem", "relative_error_tensors"]


def relative_error_tensors(y_true, y_prediction):
    """Graph tensors ``(rel_error, variance_reduction)`` of a prediction.

    ``rel_error = mean_i ||y_i - yhat_i|| / ||y_i||`` and
    ``variance_reduction = 1 - sum_i ||y_i - yhat_i||^2 / sum_i ||y_i - mean(y)||^2``.
    """
    axes = list(range(1, len(y_true.shape)))
    diff = y_true - y_prediction
    tiny = tf.constant(1e-30, dtype=y_true.dtype)
    err = tf.sqrt(tf.reduce_sum(tf.square(diff), axis=axes))
    norm = tf.sqrt(tf.reduce_sum(tf.square(y_true), axis=axes))
    rel_error = tf.reduce_mean(err / tf.maximum(norm, tiny))
    centered = y_true - tf.reduce_mean(y_true, axis=0, keepdims=True)
    variance_reduction = 1.0 - tf.reduce_sum(tf.square(diff)) / tf.maximum(
        tf.reduce_sum(tf.square(centered)), tiny)
    # Under MPI, SSE/SST is not a mean of per-shard values: recompute it from sample means
    # (SSE/n, mean(y), mean ||y||^2; SST/n = mean ||y||^2 - ||mean(y)||^2).
    sources = [tf.reduce_mean(tf.reduce_sum(tf.square(diff), axis=axes)),
               tf.reduce_mean(y_true, axis=0),
               tf.reduce_mean(tf.reduce_sum(tf.square(y_true), axis=axes))]
    register_derived(variance_reduction, sources, _variance_reduction_from_means)
    return rel_error, variance_reduction


def _variance_reduction_from_means(sse_mean, y_mean, y2_mean):
    sst_mean = float(y2_mean) - float(np.sum(np.square(y_mean)))
    return 1.0 - float(sse_mean) / max(sst_mean, 1e-30)


class RegressionProblem(Problem):
    """Mean squared error regression.

    ``loss = mean over samples and output entries of (y_true - y_prediction)^2``;
    ``rel_error = mean_i ||y_i - yhat_i|| / ||y_i||``; ``accuracy = 1 - rel_error``;
    ``variance_reduction = 1 - SSE / SST``. Feed ``{problem.x: x, problem.y_true: y}``.
    """

    def _build_loss(self):
        self.y_true = tf.placeholder(self.dtype, self.y_prediction.shape, name="y_true")
        self.loss = tf.reduce_mean(squared_error(self.y_prediction, self.y_true))
        self.rel_error, self.variance_reduction = relative_error_tensors(self.y_true, self.y_prediction)
        self.accuracy = 1.0 - self.rel_error
