"""Which stable error codes a route can answer with, declared where the route is.

A route names the codes its services raise (`openapi_extra=errors("domain_not_found")` on the
decorator) and a dependency the codes it raises (`@declares(...)`: authentication, roles). Each
surface adds its own (validation, idempotency, body limit) and documents them all per route in
its own format, grouped by the status the registry (`mailfleet.exceptions.ERROR_CODES`) gives
each code: see `surfaces.recipe.document_errors`. The operation keeps the full list under
`x-error-codes`, so a client (or a compat surface) can map every code it may meet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext

from mailfleet.exceptions import ERROR_CODES

EXTENSION = "x-error-codes"
# The attribute `declares` sets on a dependency.
_ATTRIBUTE = "mailfleet_error_codes"

F = TypeVar("F", bound=Callable[..., Any])


def _checked(codes: Iterable[str]) -> list[str]:
    wanted = sorted(set(codes))
    unknown = [code for code in wanted if code not in ERROR_CODES]
    if unknown:
        # Caught at import: a typo here would document a code no surface can map.
        raise ValueError(f"undeclared error codes {unknown}: add them to exceptions.ERROR_CODES")
    return wanted


def errors(*codes: str) -> dict[str, Any]:
    """The `openapi_extra` of a route that can answer with `codes` (beyond its dependencies')."""
    return {EXTENSION: _checked(codes)}


def declares(*codes: str) -> Callable[[F], F]:
    """Marks a dependency with the codes it can raise, for every route that depends on it."""
    checked = tuple(_checked(codes))

    def mark(function: F) -> F:
        setattr(function, _ATTRIBUTE, checked)
        return function

    return mark


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def route_codes(route: RouteContext) -> set[str]:
    """The codes a route declares, with those of every dependency it runs."""
    codes = set((route.openapi_extra or {}).get(EXTENSION, ()))
    dependants = [route.dependant, *_dependencies(route.dependant)]
    for dependant in dependants:
        codes.update(getattr(dependant.call, _ATTRIBUTE, ()))
    # A page cursor (kit.pagination) this API did not issue is refused.
    if any(param.name == "cursor" for d in dependants for param in d.query_params):
        codes.add("invalid_cursor")
    return codes


def native_status(code: str, status: int) -> int:
    return status


def by_status(
    codes: Iterable[str], status_of: Callable[[str, int], int] = native_status
) -> dict[int, list[str]]:
    """Codes grouped under each status the registry gives them (as `status_of` maps it for a
    surface whose statuses differ), sorted."""
    grouped: dict[int, set[str]] = {}
    for code in codes:
        for status in ERROR_CODES[code].statuses:
            grouped.setdefault(status_of(code, status), set()).add(code)
    return {status: sorted(grouped[status]) for status in sorted(grouped)}
