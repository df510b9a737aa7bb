"""Regression with a derivative (H1) misfit in a reduced input basis."""
import numbers

import numpy as np

from .._tf import tf
from .problem import squared_error
from .regression_problem import RegressionProblem, relative_error_tensors

__all__ = ["H1RegressionProblem"]


class H1RegressionProblem(RegressionProblem):
    r"""Least squares on outputs and on input-output Jacobians projected on a basis.

    For a network ``y = NN(x; w)`` with ``d_in = prod(x.shape[1:])`` inputs and
    ``d_out = prod(y.shape[1:])`` outputs, and a basis ``V`` of shape ``(d_in, r)``,

    .. math::

        f(w) = \underbrace{\operatorname{mean}_{i,j}\,(y_{ij} - \hat y_{ij})^2}_{\texttt{l2\_loss}}
          + \texttt{h1\_weight}\,
            \underbrace{\operatorname{mean}_{i,j,k}\,\big((J_i V)_{jk} - D_{ijk}\big)^2}_{\texttt{h1\_loss}},

    where ``J_i = d yhat_i / d x_i`` is ``(d_out, d_in)`` and ``D = dy_true`` is fed as
    ``(batch, d_out, r)``. ``JV`` (the tensor ``jacobian_basis_product``, shape
    ``(batch, d_out, r)``) is built in the graph without forming ``J``: with a dummy
    cotangent ``u`` of ``y``'s shape, ``t(u) = d (u . yhat) / dx = J^T u`` is linear in
    ``u``, so ``d (t(u) . v_k) / du = J v_k`` (forward mode from two reverse passes),
    one pass per basis column. Samples are independent, so batch sums never mix them.

    Parameters
    ----------
    NeuralNetwork : tf.keras.Model
        One input, one output.
    basis : array_like, shape (d_in, r)
        Reduced input basis (e.g. dominant directions of the input covariance or of
        an active subspace); columns index the input flattened row-major.
    h1_weight : float, default 1.0
        Weight (>= 0) of the derivative misfit.
    hessian_block_size, dtype
        As in :class:`Problem`.

    Notes
    -----
    Feed ``{problem.x: x, problem.y_true: y, problem.dy_true: dy}``. Every Hessian
    action differentiates ``JV`` twice more in ``w``, so use smooth activations
    (tanh, softplus, ...): ReLU networks have piecewise constant ``J``.
    ``h1_rel_error`` is ``mean_i ||J_i V - D_i|| / ||D_i||``.
    """

    has_derivative_loss = True

    def __init__(self, NeuralNetwork, basis, h1_weight=1.0, hessian_block_size=None, dtype=None):
        if isinstance(basis, (str, bytes)) or basis is None:
            raise TypeError(f"basis must be a numpy array of shape (d_in, r), got {type(basis).__name__}.")
        basis = np.array(basis, dtype=np.float64)  # a copy; the caller's array is not kept
        if basis.ndim != 2 or basis.shape[1] < 1:
            raise ValueError(f"basis must be a matrix of shape (d_in, r) with r >= 1, got shape {basis.shape}.")
        if not np.all(np.isfinite(basis)):
            raise ValueError("basis contains NaN or inf.")
        if isinstance(h1_weight, bool) or not isinstance(h1_weight, numbers.Real) or not h1_weight >= 0:
            raise ValueError(f"h1_weight must be a real number >= 0, got {h1_weight!r}.")
        self.basis = basis
        self.h1_weight = float(h1_weight)
        super().__init__(NeuralNetwork, hessian_block_size=hessian_block_size, dtype=dtype)

    def _build_loss(self):
        super()._build_loss()
        self.l2_loss = self.loss
        x, y = self.x, self.y_prediction
        input_shape = x.shape.as_list()[1:]
        d_in = int(np.prod(input_shape))
        if self.basis.shape[0] != d_in:
            raise ValueError(
                f"basis has {self.basis.shape[0]} rows but the network has d_in = {d_in} inputs "
                f"(input shape {input_shape}); pass a (d_in, r) basis."
            )
        r = self.basis.shape[1]
        d_out = self.output_dimension
        batch = tf.shape(x)[0]
        u = tf.zeros_like(y)  # dummy cotangent: only derivatives w.r.t. it are used
        jt_u = tf.gradients(y, x, grad_ys=u)[0]  # J^T u, shape of x
        columns = []
        for k in range(r):
            v_k = tf.constant(self.basis[:, k].reshape(input_shape), dtype=self.dtype)
            v_tiled = tf.broadcast_to(v_k, tf.shape(x))
            jv = tf.gradients(jt_u, u, grad_ys=v_tiled)[0]  # J v_k, shape of y
            columns.append(tf.reshape(jv, [batch, d_out]))
        self.jacobian_basis_product = tf.stack(columns, axis=-1)
        self.dy_true = tf.placeholder(self.dtype, [None, d_out, r], name="dy_true")
        self.h1_loss = tf.reduce_mean(squared_error(self.jacobian_basis_product, self.dy_true))
        self.loss = self.l2_loss + tf.constant(self.h1_weight, self.dtype) * self.h1_loss
        self.h1_rel_error, _ = relative_error_tensors(self.dy_true, self.jacobian_basis_product)
