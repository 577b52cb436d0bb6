"""Every chapter runs in FAST mode (its own asserts are the test) and is a clean jupytext pair."""

import os

import jupytext
import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

CHAPTERS = sorted((REPO / "chapters").glob("[0-9][0-9]_*.py"))


def test_there_are_seven_chapters():
    assert len(CHAPTERS) == 7, [c.name for c in CHAPTERS]


@pytest.fixture(scope="session")
def kernel(tmp_path_factory):
    """One Jupyter kernel per pytest-xdist worker, shared by the chapters that worker runs.
    (Session-scoped: a module's fixture ends when its worker turns to another module's test,
    and the next chapter would start a kernel again.)

    A kernel's start imports TensorFlow (7-8 CPU-s on 2 cores); seven of them were a tenth of
    the suite. Each chapter still runs as a notebook in a real kernel, after ``%reset -f``
    (a chapter cannot lean on names another left behind), and one FAST runs dir is shared, so
    a variant two chapters use trains once."""
    from jupyter_client.manager import KernelManager

    tmp = tmp_path_factory.mktemp("chapters")
    env = {
        **os.environ,
        "ALEXNET_FAST": "1",
        "ALEXNET_FAST_RUNS": str(tmp / "fast-runs"),
        "MPLBACKEND": "Agg",
        "TMPDIR": str(tmp),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": str(REPO),  # the kernel imports this checkout
    }
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(REPO / "chapters"))
    yield km
    km.shutdown_kernel(now=True)


# Chapters that train the same variant run in one pytest-xdist worker (--dist loadgroup), so
# its FAST run is shared: 02 and 03 compare against `no_cutout`, 04 and 05 against `small`.
SHARED = {"02": "no_cutout", "03": "no_cutout", "04": "small", "05": "small"}
# Before each chapter. The CPU is split in two, as chapter 6 does in a fresh kernel: in a kernel
# that ran another chapter TensorFlow has started, and the split must come before that.
RESET = """%reset -f
import matplotlib.pyplot
from alexnet_tf import distribute
matplotlib.pyplot.close("all")
distribute.split_devices(2)"""


def _grouped(path):
    group = SHARED.get(path.stem[:2])
    marks = [pytest.mark.xdist_group(group)] if group else []
    return pytest.param(path, marks=marks, id=path.stem)


@pytest.mark.heavy
@pytest.mark.parametrize("path", [_grouped(p) for p in CHAPTERS])
def test_chapter_runs_in_fast_mode(path, kernel):
    nb = jupytext.read(path)
    nb.cells.insert(0, nbformat.v4.new_code_cell(RESET))
    client = NotebookClient(nb, km=kernel, timeout=240)
    try:
        client.execute()
    except BaseException:
        kernel.restart_kernel(now=True)  # the next chapter starts clean
        raise
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
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
