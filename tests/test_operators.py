"""Tests of as_operator / as_generator (hessianlearn.algorithms.operators)."""
import numpy as np
import pytest
import scipy.sparse
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from hessianlearn.algorithms.operators import as_generator, as_operator
from linalg_cases import DimensionOperator


@pytest.fixture
def matrix():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((6, 6))
    return M + M.T


@pytest.mark.parametrize("form", ["array", "linear_operator", "sparse",
                                  "dimension_call", "plain_callable"])
def test_every_form_multiplies_vectors_and_blocks(matrix, form):
    wrapped = {
        "array": lambda: as_operator(matrix),
        "linear_operator": lambda: as_operator(aslinearoperator(matrix)),
        "sparse": lambda: as_operator(scipy.sparse.csr_array(matrix)),
        "dimension_call": lambda: as_operator(DimensionOperator(matrix)),
        "plain_callable": lambda: as_operator(lambda x: matrix @ x, n=6),
    }[form]()
    assert isinstance(wrapped, LinearOperator)
    assert wrapped.shape == (6, 6)
    x = np.arange(6.0)
    X = np.arange(18.0).reshape(6, 3)
    np.testing.assert_allclose(wrapped.matvec(x), matrix @ x, rtol=1e-13)
    np.testing.assert_allclose(wrapped.matmat(X), matrix @ X, rtol=1e-13)


def test_integer_array_is_read_as_float_and_not_modified():
    A = np.array([[2, 1], [1, 3]])
    before = A.copy()
    op = as_operator(A)
    np.testing.assert_allclose(op.matvec(np.array([0.5, 0.5])), [1.5, 2.0])
    np.testing.assert_array_equal(A, before)
    assert A.dtype == before.dtype


def test_callable_returning_column_vector_is_accepted(matrix):
    op = as_operator(lambda x: (matrix @ x).reshape(6, -1), n=6)
    assert op.matvec(np.ones(6)).shape == (6,)


@pytest.mark.parametrize("bad, error, words", [
    (np.ones((3, 4)), ValueError, "square"),
    (np.ones(3), ValueError, "2-D"),
    ("matrix", TypeError, "'H'"),
    (np.array([[True]]), TypeError, "numeric"),
    (lambda x: x, TypeError, "dimension"),
])
def test_bad_operators_raise_naming_the_argument(bad, error, words):
    with pytest.raises(error, match=words):
        as_operator(bad, argument="H")


def test_dimension_mismatch_and_bad_dimension(matrix):
    with pytest.raises(ValueError, match="dimension 6"):
        as_operator(matrix, n=5)

    class Bad:
        dimension = 2.5

        def __call__(self, x):
            return x

    with pytest.raises(TypeError, match="positive int"):
        as_operator(Bad())


def test_callable_with_wrong_output_shape_raises(matrix):
    op = as_operator(lambda x: np.ones(5), n=6)
    with pytest.raises(ValueError, match="expected"):
        op.matvec(np.ones(6))


def test_as_generator_forms():
    a = as_generator(3).standard_normal(4)
    b = as_generator(3).standard_normal(4)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(1)
    assert as_generator(rng) is rng
    assert isinstance(as_generator(None), np.random.Generator)
    with pytest.raises(TypeError, match="seed"):
        as_generator(1.5)
    with pytest.raises(ValueError, match="seed"):
        as_generator(-1)
