"""The Hessian of a problem's loss as a numpy-facing operator."""
from .curvature_operator import CurvatureOperator, OperatorWrapper

__all__ = ["Hessian", "HessianWrapper"]


class Hessian(CurvatureOperator):
    """Matrix-free Hessian ``H = d^2 f / dw^2`` of ``problem.loss`` (plus regularization).

    ``H(x, feed_dict)`` evaluates ``H x = d/dw (g^T x)`` on the batch in
    ``feed_dict``: ``x`` of shape ``(dimension,)`` uses ``problem.Hdw``, a matrix
    ``(dimension, k)`` uses the block product ``problem.HdW`` in blocks of
    ``block_size`` columns. See :class:`CurvatureOperator` for the arguments.

    Examples
    --------
    >>> H = Hessian(problem, sess)                      # doctest: +SKIP
    >>> Hx = H(x, {problem.x: x_batch, problem.y_true: y_batch})   # doctest: +SKIP
    >>> eigsh(H.as_linear_operator(feed), k=5)          # doctest: +SKIP
    """

    def _vector_product(self):
        return self.problem.dw, self.problem.Hdw

    def _block_product(self, k):
        return self.problem._hessian_block(k)

    def _point_vector_product(self):
        return self.problem._point_hessian_vector_product()


def HessianWrapper(H, feed_dict):
    """``H`` bound to one data dict: a callable ``x -> H(x, feed_dict)`` with ``dimension``."""
    return OperatorWrapper(H, feed_dict)
