from __future__ import annotations

import re
import types
import unicodedata
import uuid
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

T = TypeVar("T")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it at the edge on every backend alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.lower()
    if "\x00" in value or not _EMAIL.match(value):
        raise ValueError("must be an email address")
    return value


def no_control(value: str) -> str:
    # Names and labels are shown in lists, CSVs and mail headers: a control character there
    # (a newline, an escape sequence) is never meant and can forge lines.
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=320),
    AfterValidator(_email),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(no_control),
]
# A label on a resource, repeated on every list page: short, no controls.
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(no_control),
]
MAX_TAGS = 20


# JSON's own scalar types: a request must send them as such, never as strings ("5", "true").
_STRICT_SCALARS = (bool, int, float)


def strict_scalars(annotation: Any) -> Any:
    """`annotation` with every bool, int and float in it (nested too) made strict.

    Only those: model-wide strict mode would also refuse UUIDs, datetimes and enums given as
    strings, which is how JSON carries them. `str` needs nothing: Pydantic never makes one
    from a number. Strictness is a validation rule only, so the JSON schema stays the same.
    """
    if annotation in _STRICT_SCALARS:
        return Annotated[annotation, Strict()]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return Annotated[(strict_scalars(args[0]), *annotation.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[tuple(strict_scalars(arg) for arg in args)]  # noqa: UP007
    if origin in (list, set, frozenset, tuple) and args:
        return origin[tuple(strict_scalars(arg) for arg in args)]
    if origin is dict and args:
        # Keys stay as they are: JSON object keys are always strings.
        return origin[(args[0], strict_scalars(args[1]))]
    return annotation


class StrictScalars(BaseModel):
    """A request shape whose bool, int and float fields take only JSON's own types."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for field in cls.__pydantic_fields__.values():
            strict = strict_scalars(field.annotation)
            if strict != field.annotation:
                field.annotation = strict
                changed = True
        if changed:
            cls.model_rebuild(force=True)


class Schema(StrictScalars):
    """A request body: unknown fields refused, JSON scalars taken as their JSON type only."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class ResponseSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FieldErrorSchema(BaseModel):
    field: str
    code: str
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    instance: str
    field: str | None = None
    errors: list[FieldErrorSchema] = Field(default_factory=list)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class Deleted(BaseModel):
    id: uuid.UUID
    deleted: bool = True
