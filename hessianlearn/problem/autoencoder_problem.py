"""Autoencoder: the target is the input, ``f(w) = mean (x - NN(x; w))^2`` per entry."""
from .._tf import tf
from .problem import Problem, squared_error
from .regression_problem import relative_error_tensors

__all__ = ["AutoencoderProblem"]


class AutoencoderProblem(Problem):
    """Mean squared reconstruction error (per entry, e.g. per pixel).

    There is no ``y_true`` placeholder: ``y_true`` is ``x`` itself, so data dicts
    hold only ``{problem.x: x}``. ``accuracy = 1 - mean_i ||x_i - xhat_i|| / ||x_i||``.
    """

    is_autoencoder = True

    def _build_loss(self):
        if self.x.shape.as_list()[1:] != self.y_prediction.shape.as_list()[1:]:
            raise ValueError(
                f"An autoencoder's output must have the input's shape: input "
                f"{self.x.shape.as_list()[1:]}, output {self.y_prediction.shape.as_list()[1:]}."
            )
        self.y_true = self.x
        self.loss = tf.reduce_mean(squared_error(self.y_prediction, self.x))
        self.rel_error, self.variance_reduction = relative_error_tensors(self.x, self.y_prediction)
        self.accuracy = 1.0 - self.rel_error
