"""Every stable error code raised in the code base is declared in the registry, with its status.

The registry (`mailfleet.exceptions.ERROR_CODES`) is what a surface maps to its own messages
and statuses: a code raised but not declared would reach a compat client unmapped. The scan
reads the source: `code="..."` passed to an error, `code = "..."` on an error class (with the
status of its base), get_scoped's `<model>_not_found`, and the HTTP errors' own codes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import mailfleet
from mailfleet import exception_handlers, exceptions
from mailfleet.exceptions import ERROR_CODES, MailfleetError

ROOT = Path(mailfleet.__file__).parent
# Names under which the base error classes are raised, with their status.
STATUSES = {
    name: value.status
    for name, value in vars(exceptions).items()
    if isinstance(value, type) and issubclass(value, MailfleetError)
}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def raised_codes() -> Iterator[tuple[str, int | None, str]]:
    """(code, status if known, where) for each code the source raises."""
    for path in sorted(ROOT.rglob("*.py")):
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                yield from _call_codes(node, where)
            elif isinstance(node, ast.ClassDef):
                yield from _class_codes(node, where)


def _call_codes(node: ast.Call, where: str) -> Iterator[tuple[str, int | None, str]]:
    called = _name(node.func)
    for keyword in node.keywords:
        literal = keyword.value
        if keyword.arg == "code" and isinstance(literal, ast.Constant):
            yield str(literal.value), STATUSES.get(called), where
    if called == "get_scoped" and len(node.args) > 1 and isinstance(node.args[1], ast.Name):
        yield f"{_snake(node.args[1].id)}_not_found", 404, where


def _class_codes(node: ast.ClassDef, where: str) -> Iterator[tuple[str, int | None, str]]:
    # The class's own `status = ...`, else its base's.
    assigned = {
        _name(statement.targets[0]): statement.value.value
        for statement in node.body
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
    }
    bases = [STATUSES.get(_name(base)) for base in node.bases]
    status = assigned.get("status", next((s for s in bases if s is not None), None))
    if "code" in assigned:
        yield str(assigned["code"]), int(status) if status is not None else None, where


def test_the_scan_finds_codes_across_the_packages() -> None:
    found = {code for code, _, _ in raised_codes()}
    assert {"dns_provider_error", "username_taken", "domain_not_found", "insufficient_role"} <= (
        found
    )


def test_every_raised_code_is_declared_with_its_status() -> None:
    undeclared = sorted(
        {f"{code} ({where})" for code, _, where in raised_codes()}
        - {f"{code} ({where})" for code, _, where in raised_codes() if code in ERROR_CODES}
    )
    assert undeclared == [], "declare these codes in mailfleet.exceptions.ERROR_CODES"
    wrong = sorted(
        f"{code} is raised as {status} in {where}"
        for code, status, where in raised_codes()
        if status is not None and status not in ERROR_CODES[code].statuses
    )
    assert wrong == []


def test_the_http_errors_codes_are_declared() -> None:
    http = {code for code, _ in exception_handlers._STATUS_CODES.values()}
    assert http - set(ERROR_CODES) == set()
    for status, (code, _) in exception_handlers._STATUS_CODES.items():
        assert status in ERROR_CODES[code].statuses


def test_codes_are_snake_case_and_describe_themselves() -> None:
    for code, declared in ERROR_CODES.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code), code
        assert declared.code == code
        assert declared.statuses, code
        assert all(400 <= status < 600 for status in declared.statuses), code
        assert declared.meaning.endswith("."), code
