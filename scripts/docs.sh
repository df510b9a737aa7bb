#!/usr/bin/env bash
# Set everything up (./.venv, with the docs extra) and build the documentation into
# _output/docs/ (open _output/docs/index.html). Every warning is an error, every
# cross-reference must resolve and the internal links of the built pages are checked;
# the tutorials are rendered from their stored outputs (no data, no network needed).
# Extra arguments go to sphinx-build, e.g. `bash scripts/docs.sh -j 2`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
.venv/bin/python -m pip install --quiet -e '.[docs]'
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec .venv/bin/python -m sphinx -E -b html -W --keep-going -q docs _output/docs "$@"
