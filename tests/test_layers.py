"""Imports point down: a package of veriscan imports only packages listed before it in
LAYERS (or itself). Every import counts, at module level, inside a function or under
TYPE_CHECKING: an import moved into a function still ties the two packages together.

None does: what both kinds of scan share (the kind, who may read one, how to load
one) lives in `scans`, below every domain, and the domains above register with it what it
needs of them (hooks, grants). docs/architecture.md#layers-and-modules draws the same order.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import veriscan

PACKAGE = Path(veriscan.__file__).parent

# Lowest first. A top-level module (app.py) or package (malware/) of veriscan is one entry.
LAYERS = [
    # No domain words.
    "core",
    "storage",
    "uploads",
    "leases",
    "locks",
    "realtime",
    "queue",
    "openapi",
    "engines",
    "analyzers",
    "training",
    # What a process holds; who is calling; the web layer's dependencies.
    "context",
    "accounts",
    "deps",
    # What both kinds of scan share.
    "scans",
    # Domains.
    "audit",
    "auth",
    "keys",
    "notifications",
    "comments",
    "sharing",
    "cases",
    "files",
    "malware",
    "media",
    "batches",
    "reports",
    "admin",
    # Composition.
    "jobs",
    "models",
    "migrations",
    "web",
    "app",
    "scan_cli",
    "client_cli",
    "cli",
    "__main__",
]


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "veriscan":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> where, for imports between packages."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        importer = _package_of(module)
        assert importer is not None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
                if node.module == "veriscan":  # from veriscan import web, __version__
                    targets = [f"veriscan.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                imported = _package_of(target)
                if imported in (None, importer, "__init__"):
                    continue
                found[(importer, str(imported))].append(f"{module}:{node.lineno}")
    return found


def test_every_package_has_a_layer() -> None:
    packages = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert packages - set(LAYERS) == set()
    assert set(LAYERS) - packages == set()


def test_imports_point_down() -> None:
    rank = {name: index for index, name in enumerate(LAYERS)}
    upward = {
        pair: places
        for pair, places in _imports().items()
        if pair[1] in rank and rank[pair[1]] > rank[pair[0]]
    }
    assert upward == {}, "imports that point up: " + repr(upward)
