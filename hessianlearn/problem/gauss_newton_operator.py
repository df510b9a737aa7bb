"""The generalized Gauss-Newton matrix of a problem's loss as a numpy-facing operator."""
from .curvature_operator import CurvatureOperator, OperatorWrapper
from .gauss_newton import gauss_newton_block, gauss_newton_graph

__all__ = ["GaussNewton", "GaussNewtonWrapper"]


class GaussNewton(CurvatureOperator):
    """Matrix-free generalized Gauss-Newton matrix ``G = J^T H_L J`` (plus regularization).

    ``J = dz/dw`` is the Jacobian of the network outputs ``z`` of the batch
    with respect to the flat weights ``w`` and ``H_L = d^2 L / dz^2`` the
    Hessian of the loss with respect to the outputs (see
    :mod:`hessianlearn.problem.gauss_newton`). ``G`` is symmetric and, for a loss
    convex in ``z`` (mean squared error, softmax cross-entropy), positive
    semidefinite, so CG and the low-rank saddle-free Newton step can use it
    where the Hessian is indefinite.

    ``G(x, feed_dict)`` takes ``x`` of shape ``(dimension,)`` (uses
    ``problem.GNdw``) or ``(dimension, k)`` (the block product ``GNdW`` in
    blocks of ``block_size`` columns). With ``layer_name`` the operator is the
    diagonal block ``G[s, s]`` of one layer's weights. See
    :class:`~hessianlearn.problem.curvature_operator.CurvatureOperator` for the
    arguments.

    Raises
    ------
    NotImplementedError
        For problems whose loss is not a function of the network outputs alone
        (games, VAEs, derivative losses).

    Examples
    --------
    >>> G = GaussNewton(problem, sess)                    # doctest: +SKIP
    >>> Gx = G(x, {problem.x: x_batch, problem.y_true: y_batch})   # doctest: +SKIP
    >>> eigsh(G.as_linear_operator(feed), k=5)            # doctest: +SKIP
    """

    def __init__(self, problem, sess, regularization=None, block_size=None, comm=None, layer_name=None):
        super().__init__(problem, sess, regularization=regularization, block_size=block_size,
                         comm=comm, layer_name=layer_name)
        gauss_newton_graph(problem)  # fail early for unsupported problems

    def _vector_product(self):
        return self.problem.dw, self.problem.GNdw

    def _block_product(self, k):
        return gauss_newton_block(self.problem, k)


def GaussNewtonWrapper(G, feed_dict):
    """``G`` bound to one data dict: a callable ``x -> G(x, feed_dict)`` with ``dimension``."""
    return OperatorWrapper(G, feed_dict)
