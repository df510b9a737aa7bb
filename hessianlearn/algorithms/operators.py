"""Turn the operator forms hessianlearn meets into one scipy ``LinearOperator``.

The linear algebra in :mod:`hessianlearn.algorithms` (Krylov solvers,
randomized eigensolvers, range finders, trace estimators, Lanczos) only ever
multiplies by a square matrix :math:`A \\in \\mathbb{R}^{n \\times n}`.  It
accepts the matrix in any of these forms and converts it once with
:func:`as_operator`:

* a square 2-D numpy array;
* a ``scipy.sparse.linalg.LinearOperator`` or a scipy sparse matrix/array;
* an object with an integer attribute ``dimension`` and a ``__call__(x)``
  that maps a vector of shape ``(n,)`` to ``(n,)`` and an array of shape
  ``(n, k)`` to ``(n, k)``.  This is the form of hessianlearn's curvature
  operators once a feed dict is bound (``HessianWrapper(H, feed_dict)``);
* a plain callable with the same vector/matrix behaviour, when the dimension
  ``n`` is given.

The module also holds the small input checks shared by the algorithms
(:func:`as_generator` for seeds).
"""
import numbers

import numpy as np
import scipy.sparse
from scipy.sparse.linalg import LinearOperator, aslinearoperator

__all__ = ["as_operator", "as_generator"]


class _CallableOperator(LinearOperator):
    """``LinearOperator`` over a callable ``f(x)`` acting on vectors and blocks.

    The callable is assumed self-adjoint (curvature operators are symmetric),
    so the adjoint is the operator itself.
    """

    def __init__(self, function, n, dtype, argument):
        super().__init__(dtype=dtype, shape=(n, n))
        self._function = function
        self._argument = argument

    def _checked_call(self, x, expected_shape):
        y = np.asarray(self._function(x))
        if y.shape != expected_shape:
            # Tolerate (n, 1) <-> (n,) for single columns, nothing else.
            single = len(expected_shape) == 1 or expected_shape[1] == 1
            if single and y.size == expected_shape[0]:
                return y.reshape(expected_shape)
            raise ValueError(
                f"'{self._argument}' returned an array of shape {y.shape} for an "
                f"input of shape {x.shape}; expected {expected_shape}. The "
                "callable must map (n,) -> (n,) and (n, k) -> (n, k)."
            )
        return y

    def _matvec(self, x):
        x = np.asarray(x).reshape(-1)
        return self._checked_call(x, (self.shape[0],))

    def _matmat(self, X):
        X = np.asarray(X)
        return self._checked_call(X, (self.shape[0], X.shape[1]))

    def _rmatvec(self, x):
        return self._matvec(x)

    def _rmatmat(self, X):
        return self._matmat(X)

    def _adjoint(self):
        return self


def _check_dimension(n, argument):
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
        raise TypeError(
            f"The dimension of '{argument}' must be a positive int, got "
            f"{type(n).__name__} {n!r}."
        )
    if n <= 0:
        raise ValueError(
            f"The dimension of '{argument}' must be a positive int, got {n}."
        )
    return int(n)


def as_operator(A, argument="A", n=None):
    """Return ``A`` as a square ``scipy.sparse.linalg.LinearOperator``.

    Parameters
    ----------
    A : ndarray, LinearOperator, sparse matrix, operator object or callable
        The square matrix :math:`A \\in \\mathbb{R}^{n \\times n}`:

        * a 2-D numpy array of shape ``(n, n)`` (integer arrays are read as
          float64; the array is referenced, never modified);
        * a ``LinearOperator`` or scipy sparse matrix of shape ``(n, n)``;
        * an object with an int attribute ``dimension`` and ``__call__(x)``
          mapping shape ``(n,)`` to ``(n,)`` and ``(n, k)`` to ``(n, k)``
          (hessianlearn's ``HessianWrapper``); an optional ``dtype``
          attribute sets the operator dtype (default float64);
        * a plain callable with that behaviour, if ``n`` is given.

        Callable forms are taken to be symmetric: their adjoint is
        themselves.
    argument : str, optional
        Name of the argument, used in error messages.
    n : int, optional
        Expected dimension.  Required for a plain callable; for the other
        forms it is checked against the operator's shape.

    Returns
    -------
    LinearOperator
        Operator of shape ``(n, n)``.  ``matvec`` maps ``(n,)`` to ``(n,)``,
        ``matmat`` maps ``(n, k)`` to ``(n, k)``.

    Raises
    ------
    TypeError
        If ``A`` is none of the accepted forms, or a plain callable is given
        without ``n``.
    ValueError
        If ``A`` is not square, is not 2-D, or its dimension differs from
        ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> op = as_operator(np.diag([1.0, 2.0]))
    >>> op.matvec(np.ones(2))
    array([1., 2.])
    >>> op = as_operator(lambda x: 3.0 * x, n=2)
    >>> op.matmat(np.eye(2))
    array([[3., 0.],
           [0., 3.]])
    """
    if n is not None:
        n = _check_dimension(n, argument)

    if isinstance(A, LinearOperator):
        op = A
    elif scipy.sparse.issparse(A):
        op = aslinearoperator(A)
    elif isinstance(A, np.ndarray):
        if A.ndim != 2:
            raise ValueError(
                f"'{argument}' must be a square 2-D array, got an array with "
                f"{A.ndim} dimension(s) and shape {A.shape}."
            )
        if not (np.issubdtype(A.dtype, np.floating)
                or np.issubdtype(A.dtype, np.complexfloating)):
            if not np.issubdtype(A.dtype, np.number) or A.dtype == np.bool_:
                raise TypeError(
                    f"'{argument}' must be a numeric array, got dtype {A.dtype}."
                )
            A = A.astype(np.float64)
        op = aslinearoperator(A)
    elif hasattr(A, "dimension") and callable(A):
        dimension = _check_dimension(A.dimension, argument)
        dtype = np.dtype(getattr(A, "dtype", np.float64))
        op = _CallableOperator(A, dimension, dtype, argument)
    elif callable(A):
        if n is None:
            raise TypeError(
                f"'{argument}' is a callable without a 'dimension' attribute; "
                "pass its dimension n as well, or give an object with an int "
                "'dimension' attribute."
            )
        op = _CallableOperator(A, n, np.dtype(np.float64), argument)
    else:
        raise TypeError(
            f"'{argument}' must be a square numpy array, a scipy LinearOperator "
            "or sparse matrix, or an object with an int 'dimension' attribute "
            f"and __call__(x); got {type(A).__name__}."
        )

    rows, cols = op.shape
    if rows != cols:
        raise ValueError(
            f"'{argument}' must be square, got shape {op.shape}."
        )
    if n is not None and rows != n:
        raise ValueError(
            f"'{argument}' has dimension {rows}, but dimension {n} was expected."
        )
    return op


def as_generator(seed, argument="seed"):
    """Return a ``numpy.random.Generator`` for ``seed``.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        A non-negative int gives a fresh, reproducible generator.  A
        ``Generator`` is returned as is, so drawing from it advances the
        caller's stream (optimizers pass their own generator so that every
        iteration sees new random numbers).  ``None`` gives a generator
        seeded from the operating system.
    argument : str, optional
        Name of the argument, used in error messages.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        If ``seed`` is neither an int, a ``Generator`` nor ``None``.
    ValueError
        If ``seed`` is a negative int.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"'{argument}' must be an int, a numpy.random.Generator or None, "
            f"got {type(seed).__name__}."
        )
    if seed < 0:
        raise ValueError(f"'{argument}' must be a non-negative int, got {seed}.")
    return np.random.default_rng(int(seed))


def _check_vector(b, n, argument):
    """Return ``b`` as a 1-D float array of length ``n`` (a copy is never
    needed by callers because they do not write into it)."""
    b = np.asarray(b)
    if b.ndim != 1:
        raise ValueError(
            f"'{argument}' must be a 1-D vector, got shape {b.shape}."
        )
    if n is not None and b.shape[0] != n:
        raise ValueError(
            f"'{argument}' has length {b.shape[0]}, but the operator has "
            f"dimension {n}."
        )
    if not np.issubdtype(b.dtype, np.inexact):
        if not np.issubdtype(b.dtype, np.number) or b.dtype == np.bool_:
            raise TypeError(f"'{argument}' must be numeric, got dtype {b.dtype}.")
        b = b.astype(np.float64)
    return b


def _check_int(value, argument, minimum=1, allow_none=False):
    """Return ``value`` as an int ``>= minimum`` or raise naming ``argument``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"'{argument}' must be an int >= {minimum}, got "
            f"{type(value).__name__} {value!r}."
        )
    if value < minimum:
        raise ValueError(f"'{argument}' must be an int >= {minimum}, got {value}.")
    return int(value)


def _check_positive_float(value, argument, allow_zero=False):
    """Return ``value`` as a float > 0 (or >= 0) or raise naming ``argument``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"'{argument}' must be a real number, got {type(value).__name__}."
        )
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"'{argument}' must be finite and {bound}, got {value}.")
    return value


def _operator_and_dimension(A, n, argument="A", n_argument="n"):
    """Shared front of the eigen/trace routines: check ``n``, convert ``A``."""
    n = _check_int(n, n_argument)
    return as_operator(A, argument, n=n), n


def _operator_and_vector(A, b, argument="A", vector_argument="b"):
    """Convert ``A`` and check that ``b`` is a vector of its dimension.

    A plain callable (no ``dimension``) takes its dimension from ``b``.
    """
    b = _check_vector(b, None, vector_argument)
    plain_callable = (callable(A) and not hasattr(A, "dimension")
                      and not isinstance(A, (LinearOperator, np.ndarray))
                      and not scipy.sparse.issparse(A))
    if plain_callable:
        return as_operator(A, argument, n=b.shape[0]), b
    op = as_operator(A, argument)
    return op, _check_vector(b, op.shape[0], vector_argument)


def _bind_form(function_name, form, signature, args, kwargs):
    """Bind a call to the ``inspect.Signature`` of one of a function's call forms.

    A mismatch (unknown keyword, too many positional arguments, a missing
    argument) raises ``TypeError`` naming the function, the form and its
    signature, with Python's own description of the problem.
    """
    try:
        return signature.bind(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"{function_name}, {form} form {signature}: {error}.") from None
