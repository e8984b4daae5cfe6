"""The import-order contract: every arrow between Mailfleet's packages points down one order.

A module may import its own package and anything earlier in `ORDER`, never anything later.
Where a lower layer needs work done by a higher one it calls a hook the higher one registers
(orders follow their mailboxes: `mailboxes.transitions.follow_orders`) or enqueues a job by
name (a domain's forwarding: `domains.service.APPLY_FORWARDING`). Imports inside functions
count like the others.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "mailfleet"

# Lowest first. Top-level modules are units of their own, like packages.
ORDER: tuple[str, ...] = (
    # Foundations: settings, errors, the database.
    "__init__",
    "config",
    "exceptions",
    "policy",
    "exception_handlers",
    "db",
    # Domain-free toolkit and the tables.
    "kit",
    "models",
    # Cross-cutting services.
    "events",
    "auth",
    "jobs",
    "idempotency",
    "forwarding",
    "integrations",
    "workspaces",
    "api_keys",
    # The domain packages, each on the ones before it.
    "dns",
    "domains",
    "reputation",
    "billing",
    "registrars",
    "mailboxes",
    "orders",
    "exports",
    "setups",
    "swaps",
    "account",
    "operator",
    "webhooks",
    # Composition: the API, its surfaces, the app, and the programs around it.
    "bootstrap",
    "docs",
    "background",
    "api",
    "surfaces",
    "compat",
    "console",
    "app",
    "demo",
    "cli",
    "__main__",
)
RANK = {unit: index for index, unit in enumerate(ORDER)}


def _units() -> set[str]:
    """Every package and top-level module of mailfleet (migrations are not code one imports)."""
    names = {path.stem for path in ROOT.glob("*.py")}
    names |= {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    return names - {"migrations"}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "migrations":
            continue
        yield ".".join(("mailfleet", *relative.with_suffix("").parts)), path


def _unit_of(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _imported(module: str, path: Path, node: ast.AST) -> list[str]:
    """The mailfleet modules (or names in them) an import statement reaches."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        package = module.split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        base = ".".join(package[: len(package) - node.level + 1])
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    if target == "mailfleet":
        # `from mailfleet import x`: x is a unit when it is a module or package, else a name.
        return [f"mailfleet.{alias.name}" for alias in node.names]
    return [target]


def _violations() -> list[str]:
    units = _units()
    found: list[str] = []
    for module, path in _modules():
        source = _unit_of(module)
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(module, path, node):
                if target != "mailfleet" and not target.startswith("mailfleet."):
                    continue
                unit = _unit_of(target)
                if unit not in units:
                    unit = "__init__"  # a name defined in mailfleet/__init__.py
                if unit == source:
                    continue
                if unit not in RANK or source not in RANK:
                    missing = unit if unit not in RANK else source
                    found.append(f"{module}: {missing!r} has no place in ORDER")
                elif RANK[unit] > RANK[source]:
                    found.append(
                        f"{module} (line {node.lineno}) imports {target}: "
                        f"{source} comes before {unit} in ORDER"
                    )
    return sorted(set(found))


def test_every_package_has_a_place_in_the_order() -> None:
    assert sorted(_units() - set(ORDER)) == []


def test_no_import_goes_against_the_order() -> None:
    assert _violations() == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    # The contract would be empty if a function-level import slipped past the walk.
    tree = ast.parse("def f():\n    from mailfleet.operator import service\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    module = "mailfleet.dns.tasks"
    assert _imported(module, tmp_path / "tasks.py", node) == ["mailfleet.operator"]
    assert RANK[_unit_of("mailfleet.operator")] > RANK[_unit_of(module)]


def test_relative_imports_resolve_to_their_package(tmp_path: Path) -> None:
    tree = ast.parse("from ..orders import status\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _imported("mailfleet.mailboxes.service", tmp_path / "service.py", node) == [
        "mailfleet.orders"
    ]


# A compat surface parses, calls services and renders: it reaches no table and writes no SQL.
# The models' enums are vocabulary (statuses, roles), not tables, and may be named.
COMPAT_ALLOWED_MODELS = {"mailfleet.models.enums"}


def _compat_violations() -> list[str]:
    found: list[str] = []
    for module, path in _modules():
        if _unit_of(module) != "compat":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(module, path, node):
                is_models = target == "mailfleet.models" or target.startswith("mailfleet.models.")
                if is_models and target not in COMPAT_ALLOWED_MODELS:
                    found.append(f"{module} (line {node.lineno}) imports {target}")
                if target == "sqlalchemy" or target.startswith("sqlalchemy."):
                    found.append(f"{module} (line {node.lineno}) imports {target}")
    return found


def test_compat_surfaces_import_services_never_models_or_sql() -> None:
    modules = [module for module, _ in _modules() if _unit_of(module) == "compat"]
    assert len(modules) >= 5
    assert _compat_violations() == []
