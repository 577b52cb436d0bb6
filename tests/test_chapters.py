"""Every chapter runs in FAST mode (its own asserts are the test) and is a clean jupytext pair."""

import jupytext
import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

CHAPTERS = sorted((REPO / "chapters").glob("[0-9][0-9]_*.py"))


def test_there_are_seven_chapters():
    assert len(CHAPTERS) == 7, [c.name for c in CHAPTERS]


@pytest.fixture(scope="module")
def fast_runs(tmp_path_factory):
    """One FAST runs dir for all chapters: a variant two chapters use trains once."""
    return tmp_path_factory.mktemp("fast-runs")


# Chapters that train the same variant run in one pytest-xdist worker (--dist loadgroup), so
# its FAST run is shared: 02 and 03 compare against `no_cutout`, 04 and 05 against `small`.
SHARED = {"02": "no_cutout", "03": "no_cutout", "04": "small", "05": "small"}


def _grouped(path):
    group = SHARED.get(path.stem[:2])
    marks = [pytest.mark.xdist_group(group)] if group else []
    return pytest.param(path, marks=marks, id=path.stem)


@pytest.mark.heavy
@pytest.mark.parametrize("path", [_grouped(p) for p in CHAPTERS])
def test_chapter_runs_in_fast_mode(path, monkeypatch, tmp_path, fast_runs):
    monkeypatch.setenv("ALEXNET_FAST", "1")
    monkeypatch.setenv("ALEXNET_FAST_RUNS", str(fast_runs))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel imports this checkout
    nb = jupytext.read(path)
    NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_is_the_paired_source_without_outputs(path):
    """The .ipynb readers open is the py:percent source (the truth), committed without outputs."""
    ipynb = path.with_suffix(".ipynb")
    assert ipynb.exists(), f"run: jupytext --sync {path}"
    nb = nbformat.read(ipynb, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    source = [c.source for c in jupytext.read(path).cells]
    assert [c.source for c in nb.cells] == source, f"out of sync: jupytext --sync {path}"
