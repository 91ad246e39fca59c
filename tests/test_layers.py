"""One-way imports: interfaces → api → tasks → engine (DESIGN.md §3)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mlpilot"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("mlpilot")}


def _files(sub: str) -> list[Path]:
    return sorted((SRC / sub).rglob("*.py"))


@pytest.mark.parametrize("path", _files("engine"), ids=lambda p: p.name)
def test_engine_imports_no_task_api_or_interface(path):
    bad = {m for m in _imports(path) if m.startswith(("mlpilot.tasks", "mlpilot.api", "mlpilot.cli"))}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", _files("tasks"), ids=lambda p: p.name)
def test_tasks_import_only_engine_and_their_own_package(path):
    own = "mlpilot.tasks." + path.relative_to(SRC / "tasks").parts[0]
    for module in _imports(path):
        if module.startswith("mlpilot.tasks"):
            assert module.startswith(own), f"{path.name} imports another task: {module}"
        assert not module.startswith(("mlpilot.api", "mlpilot.cli")), f"{path.name} imports {module}"


@pytest.mark.parametrize(
    "path", _files("cli") + _files("serve") + _files("report"), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_interfaces_do_not_reach_past_api(path):
    own = "mlpilot." + path.relative_to(SRC).parts[0]
    # serve.settings holds only the names `mlpilot serve` shares with the app factory (no server code).
    allowed = ("mlpilot.api", "mlpilot.errors", "mlpilot._version", "mlpilot.serve.settings", own)
    if own == "mlpilot.cli":
        allowed += ("mlpilot.report",)  # `mlpilot report` renders through the report package
    bad = {m for m in _imports(path) if m != "mlpilot" and not m.startswith(allowed)}
    assert not bad, f"{path.name} imports {bad}"
