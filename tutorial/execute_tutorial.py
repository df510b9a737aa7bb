"""Execute a tutorial notebook with nbclient and store it with its outputs.

Run a full Tutorial 0 (50 sweeps on 60k images; about 10 minutes on 2 idle cores) and keep
its outputs in the notebook::

    .venv/bin/python tutorial/execute_tutorial.py "tutorial/Tutorial 0 MNIST Autoencoder.ipynb"

The environment variables the notebook reads (``HESSIANLEARN_TUTORIAL_SWEEPS``,
``HESSIANLEARN_TUTORIAL_TRAIN_SIZE``, ``HESSIANLEARN_TUTORIAL_VALIDATION_SIZE``) pass through
to the kernel. ``--output`` writes the executed notebook elsewhere instead of in place.
The kernel runs in a temporary folder, so the run leaves no other files behind.
"""
import argparse
import os
import sys
import tempfile
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", help="path of the .ipynb file")
    parser.add_argument("--output", default=None, help="where to write the executed notebook (default: in place)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.notebook):
        parser.error(f"{args.notebook!r} is not a file")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(args.notebook, as_version=4)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        NotebookClient(notebook, timeout=args.timeout, kernel_name="python3",
                       resources={"metadata": {"path": folder}}).execute()
    nbformat.write(notebook, args.output or args.notebook)
    print(f"executed {args.notebook} in {time.perf_counter() - start:.0f} s; "
          f"written to {args.output or args.notebook}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
