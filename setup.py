from setuptools import find_packages, setup

# Sphinx site (bash scripts/docs.sh); tests/test_docs.py builds it, so the test extra has them too.
DOCS = ["sphinx>=7.3,<10", "myst-nb>=1.1", "pydata-sphinx-theme>=0.15", "jupyter-server-mathjax>=0.2.6"]

setup(
    name="hessianlearn",
    version="0.1.0",
    description="Hessian-based stochastic optimization of neural networks in TensorFlow and tf-keras",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="LGPL-3.0-or-later",
    packages=find_packages(include=["hessianlearn", "hessianlearn.*"]),
    python_requires=">=3.9",
    install_requires=["tensorflow>=2.16", "tf-keras>=2.16", "numpy", "scipy", "threadpoolctl"],
    extras_require={
        "test": ["pytest", "nbclient", "nbformat", "ipykernel", "matplotlib", "tqdm"] + DOCS,
        "tutorial": ["matplotlib", "tqdm", "nbclient", "nbformat", "ipykernel", "jupyter"],
        "mpi": ["mpi4py", "mpich"],
        "docs": DOCS,
    },
    classifiers=[
        "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)",
        "Programming Language :: Python :: 3",
    ],
)
