#!/usr/bin/env bash
# The fast subset of the tests (core Hessian products, the private-internal fallbacks, the
# primed product's graph copy, one optimizer fit each of Adam and LRSFN, the Tutorial 0
# smoke test, package, namespace and devices) on the oldest supported TensorFlow, in its
# own virtual environment
# ./.venv-oldest-tf. The newest supported one runs the whole suite (scripts/test.sh).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
OLDEST_TF=2.16  # tensorflow and tf-keras: the lower bound in pyproject.toml
SETUP_VENV=.venv-oldest-tf
SETUP_EXTRAS=test
SETUP_PINS="tensorflow==${OLDEST_TF}.* tf-keras==${OLDEST_TF}.*"
source scripts/setup_env.sh
"$SETUP_VENV/bin/python" -c "import tensorflow as tf, tf_keras
print('oldest supported TensorFlow:', tf.__version__, '| tf-keras:', tf_keras.__version__)"
exec "$SETUP_VENV/bin/python" -m pytest \
    tests/test_hessian_products.py \
    tests/test_session_callables.py \
    tests/test_internal_fallbacks.py \
    tests/test_primed_product.py \
    tests/test_stateless_draws.py \
    tests/test_optimizers.py::test_full_rank_lrsfn_reaches_least_squares_optimum \
    tests/test_optimizers.py::test_adam_first_steps_equal_hand_computed_update \
    tests/test_tutorials.py::test_tutorial_0_executes_on_a_small_slice \
    tests/test_package.py tests/test_namespace.py tests/test_device.py \
    "$@"
