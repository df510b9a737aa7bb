"""Classification from logits with a cross-entropy, least-squares or mixed loss."""
from .._tf import tf
from .problem import Problem, squared_error

__all__ = ["ClassificationProblem"]

_LOSS_TYPES = ("cross_entropy", "least_squares", "mixed")


class ClassificationProblem(Problem):
    """Classification; the network outputs logits ``z`` (no softmax layer).

    loss_type
        ``'cross_entropy'``: ``mean_i -sum_c y_ic log softmax(z_i)_c``;
        ``'least_squares'``: ``mean_ic (y_ic - z_ic)^2``;
        ``'mixed'``: the sum of both.

    ``accuracy`` is the fraction of samples with ``argmax z_i == argmax y_i``.
    Feed ``{problem.x: x, problem.y_true: one_hot_labels}``.
    """

    def __init__(self, NeuralNetwork, loss_type="cross_entropy", hessian_block_size=None, dtype=None):
        if loss_type not in _LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {_LOSS_TYPES}, got {loss_type!r}.")
        self.loss_type = loss_type
        super().__init__(NeuralNetwork, hessian_block_size=hessian_block_size, dtype=dtype)

    def _build_loss(self):
        self.y_true = tf.placeholder(self.dtype, self.y_prediction.shape, name="y_true")
        cross_entropy = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits_v2(labels=self.y_true, logits=self.y_prediction))
        least_squares = tf.reduce_mean(squared_error(self.y_prediction, self.y_true))
        self.loss = {
            "cross_entropy": cross_entropy,
            "least_squares": least_squares,
            "mixed": cross_entropy + least_squares,
        }[self.loss_type]
        correct = tf.equal(tf.argmax(self.y_prediction, axis=-1), tf.argmax(self.y_true, axis=-1))
        self.accuracy = tf.reduce_mean(tf.cast(correct, self.dtype))
