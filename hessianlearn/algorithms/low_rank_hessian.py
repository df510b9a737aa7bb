"""Low-rank eigendecomposition of an optimizer's curvature operator on one batch."""
import numbers

from .randomized_eigensolver import randomized_eigensolver

__all__ = ["low_rank_hessian"]


def low_rank_hessian(optimizer, feed_dict, k, p=None, test_matrix="gaussian", verbose=False):
    """Top-``k`` eigenpairs (by magnitude) of ``optimizer.H`` on ``feed_dict``.

    Runs the double-pass randomized eigensolver on the operator (including the
    regularization) with the optimizer's generator ``optimizer.rng``, which is
    advanced, and counts the ``2 (k + p')`` applied columns in
    ``optimizer.sweeps[1]`` (``p' = min(p, dimension - k)``).

    Parameters
    ----------
    optimizer : Optimizer
        Gives ``H``, ``rng``, ``sweeps`` and the session.
    feed_dict : dict
        The Hessian batch (not modified).
    k : int
        Rank, ``1 <= k <= dimension``.
    p : int, optional
        Oversampling (default 10).
    test_matrix : {'gaussian', 'rademacher'}, optional
        Kind of the random test matrix (see :func:`randomized_eigensolver`);
        a bool here is the original hessianlearn's positional ``verbose``.
    verbose : bool, optional
        Print the eigensolver's stages (nothing is printed otherwise).

    Returns
    -------
    eigenvalues : ndarray, shape (k,)
        Sorted by ``|lambda|`` descending.
    eigenvectors : ndarray, shape (dimension, k)
        Orthonormal columns.
    """
    if isinstance(test_matrix, bool):  # the original's fourth positional argument
        test_matrix, verbose = "gaussian", test_matrix
    n = optimizer.H.dimension
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise ValueError(f"k must be an int in [1, {n}] (the number of weights), got {k!r}.")
    operator = optimizer.hessian_operator(feed_dict)
    return randomized_eigensolver(operator, n, int(k), p=p, seed=optimizer.rng,
                                   test_matrix=test_matrix, verbose=verbose)
