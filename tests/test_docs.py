"""The documentation site: it builds with warnings as errors, covers the public namespace,
renders the tutorials from their stored outputs, and its reference and link checks catch
what they are meant to catch."""
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import hessianlearn  # noqa: E402
import hessianlearn_docs  # noqa: E402


def _sphinx(source, output, *extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-b", "html", "-W", "--keep-going", "-q",
         *extra, str(source), str(output)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    output = tmp_path_factory.mktemp("docs_html")
    result = _sphinx(ROOT / "docs", output)
    return result, output


@pytest.mark.slow
def test_site_builds_without_warnings(built_site):
    result, output = built_site
    assert result.returncode == 0, result.stderr[-5000:]
    for page in ("index.html", "installation.html", "coming_from_the_original.html",
                 "benchmarks.html", "api/namespace.html", "guide/optimizers_and_settings.html"):
        assert (output / page).is_file(), page
    assert hessianlearn_docs.check_internal_links(output) == []


@pytest.mark.slow
def test_every_public_name_links_to_its_entry(built_site):
    result, output = built_site
    assert result.returncode == 0, result.stderr[-5000:]
    namespace = (output / "api" / "namespace.html").read_text(encoding="utf-8")
    locations = hessianlearn_docs.public_name_locations()
    assert set(locations) == set(hessianlearn.__all__) - {"tf", "keras"}
    for name, module in locations.items():
        assert module is not None, f"{name} is listed by no module's __all__"
        page = module.split(".")[1]
        anchor = (f"module-{module}" if inspect.ismodule(getattr(hessianlearn, name))
                  else f"{module}.{name}")
        assert f'href="{page}.html#{anchor}"' in namespace, name
        entry = (output / "api" / f"{page}.html").read_text(encoding="utf-8")
        assert f'id="{anchor}"' in entry, name


@pytest.mark.slow
def test_tutorials_rendered_from_stored_outputs(built_site):
    result, output = built_site
    assert result.returncode == 0, result.stderr[-5000:]
    for stored, page in hessianlearn_docs.TUTORIALS.items():
        html = (output / "tutorials" / page.replace(".ipynb", ".html")).read_text(encoding="utf-8")
        stored_images = (ROOT / stored).read_text(encoding="utf-8").count('"image/png"')
        assert stored_images > 0
        assert html.count("<img") >= stored_images, page  # every stored figure is on the page
    assert not (output / "jupyter_execute").exists()  # nothing was executed


@pytest.mark.slow
def test_generated_tables_follow_the_code(built_site):
    result, output = built_site
    assert result.returncode == 0, result.stderr[-5000:]
    from hessianlearn.model import optimizer_registry, settings

    guide = (output / "guide" / "optimizers_and_settings.html").read_text(encoding="utf-8")
    for key in settings._defaults():
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{key}</span>" in guide, key
    for name in optimizer_registry.OPTIMIZERS:
        assert f"'{name}'" in guide, name


def _mini_project(tmp_path, body):
    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r})
        extensions = ["hessianlearn_docs"]
        hessianlearn_generate = False
        nitpicky = True
        """))
    (source / "index.rst").write_text(textwrap.dedent("""
        Mini
        ====

        .. py:class:: hessianlearn.problem.hessian.Hessian

           The one documented object.

        """) + textwrap.dedent(body))
    return source


def test_short_names_resolve_and_other_projects_render_as_text(tmp_path):
    source = _mini_project(tmp_path, """
        See :class:`Hessian`, :class:`~hessianlearn.Hessian`, :class:`dict` and :class:`numpy.ndarray`.
        """)
    result = _sphinx(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert html.count('href="#hessianlearn.problem.hessian.Hessian"') >= 2


def test_undocumented_hessianlearn_reference_fails_the_build(tmp_path):
    source = _mini_project(tmp_path, """
        See :func:`hessianlearn.lanczos` (in the package, not on this page).
        """)
    result = _sphinx(source, tmp_path / "out")
    assert result.returncode != 0
    assert "hessianlearn.lanczos" in result.stderr


def test_link_checker_reports_missing_files_and_anchors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a id="top" href="sub/page.html#here">ok</a> <a href="#top">ok</a>'
        ' <a href="sub/page.html#nowhere">bad anchor</a> <a href="gone.html">bad file</a>'
        ' <a href="https://example.org/x.html">external</a> <img src="sub/pic.png?v=1">')
    (tmp_path / "sub" / "page.html").write_text('<p id="here"></p><a href="../index.html#top">ok</a>')
    (tmp_path / "sub" / "pic.png").write_bytes(b"")
    problems = hessianlearn_docs.check_internal_links(tmp_path)
    assert sorted((str(page), link, what) for page, link, what in problems) == [
        ("index.html", "gone.html", "missing file"),
        ("index.html", "sub/page.html#nowhere", "missing anchor"),
    ]
