"""Sphinx configuration of the hessianlearn documentation (built by ``bash scripts/docs.sh``)."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))                      # document this checkout's hessianlearn
sys.path.insert(0, str(Path(__file__).parent / "_ext"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hessianlearn  # noqa: E402  (graph mode and tf-keras before autodoc imports modules)

project = "hessianlearn"
author = "hessianlearn developers"
copyright = "hessianlearn developers, LGPL-3.0-or-later"
release = hessianlearn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    "hessianlearn_docs",
]

# Notebooks are rendered from their stored outputs, never executed.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "_ext", "guide/generated"]

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False   # a method's entry shows its own docstring only
autoclass_content = "both"           # class docstring, then __init__'s
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True             # "Attributes" as fields: properties keep their own entries

# Every cross-reference must resolve (unresolved hessianlearn names fail the build;
# other projects' names render as text, see _ext/hessianlearn_docs.py).
nitpicky = True

# MathJax from the jupyter-server-mathjax package, copied into _static/mathjax/ (see
# _ext/hessianlearn_docs.py): the pages render their math without network access.
# MathJax 2 processes the math nodes (class "math") and notebook outputs inside the pages
# that MyST-NB marks "mathjax_ignore" (so that a plain "$" in the text stays text).
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                               "processEscapes": True,
                               "ignoreClass": "tex2jax_ignore|mathjax_ignore",
                               "processClass": "tex2jax_process|mathjax_process|math|output_area"},
                   # the package ships the STIX web fonts only
                   "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                                "imageFont": None}}
add_module_names = False             # entries show ``Hessian(...)``, the page gives the module

html_theme = "pydata_sphinx_theme"
html_title = f"hessianlearn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path = []
html_show_sourcelink = False
