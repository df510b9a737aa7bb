#!/usr/bin/env bash
# Set everything up (./.venv) and run the main job: the MNIST autoencoder (Tutorial 0's network)
# trained with LRSFN and with Adam, comparing validation loss against sweeps.
# Extra arguments go to the application (see --help), e.g. `bash scripts/demo.sh --sweeps 5`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
exec .venv/bin/python applications/mnist/mnist_autoencoder.py --optimizers lrsfn adam --sweeps 2 \
    --output _output/demo "$@"
