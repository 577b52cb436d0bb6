"""pyproject.toml and environment.yml agree; CI runs the README's test command."""

import re

import tomllib
from conftest import REPO


def _norm(spec: str) -> str:
    name, rest = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest.replace(" ", "")


def _environment_pip() -> set[str]:
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    specs = set()
    for line in lines[start + 1 :]:
        m = re.match(r"^\s+-\s+(.+)$", line)
        if not m:
            break
        if not m.group(1).startswith("-e"):
            specs.add(_norm(m.group(1)))
    return specs


def test_environment_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_norm(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert _environment_pip() == declared
    assert "python=3.11" in (REPO / "environment.yml").read_text()
    names = {re.match(r"[a-z0-9\-]+", s).group(0) for s in declared}
    # The set, plus what tensorflow-datasets 4.9.10 needs but does not declare.
    assert {"tensorflow", "tensorflow-datasets", "matplotlib", "jupyter", "pytest"} <= names
    assert "importlib-resources" in names
    assert any(s.startswith("tensorflow>=2.21") for s in declared)


def test_readme_quick_start_is_two_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    assert "alexnet_tf.train --dataset cifar10" in commands[0]
    assert commands[1] == 'pip install -e ".[dev]" && python -m pytest'
    ci = (REPO / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[dev]"' in ci and "python -m pytest" in ci
    assert "5)" in ci  # pytest's "no tests collected" is a failure, not a pass
