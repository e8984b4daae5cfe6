from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from mailfleet.kit.schemas import Email, Name, ResponseSchema, Schema, no_control
from mailfleet.models import Role
from mailfleet.workspaces.countries import ISO_3166_ALPHA2


# Deliberately loose: one @, no spaces, a dot in the domain part. Delivery is the real test.
def _country(value: str) -> str:
    value = value.upper()
    if value not in ISO_3166_ALPHA2:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, such as DE or US")
    return value


Country = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=2),
    AfterValidator(_country),
]


def _trimmed(min_length: int, max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


# Constraints before the character check, as in kit.schemas.Name: strip first, then count.
# Lines a person reads on an invoice: no control characters (NUL included).
Line = Annotated[str, _trimmed(1, 200), AfterValidator(no_control)]
OptionalLine = Annotated[str, _trimmed(0, 200), AfterValidator(no_control)]
City = Annotated[str, _trimmed(1, 100), AfterValidator(no_control)]
PostalCode = Annotated[str, _trimmed(1, 20), AfterValidator(no_control)]
VatId = Annotated[str, _trimmed(0, 32), AfterValidator(no_control)]


class WorkspaceCreate(Schema):
    name: Name


class WorkspaceUpdate(Schema):
    name: Name


class Workspace(ResponseSchema):
    id: uuid.UUID
    name: str
    role: Role = Field(description="The caller's role in this workspace.")
    owner_id: uuid.UUID = Field(description="The user who created the workspace.")
    created_at: datetime


class Member(ResponseSchema):
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    joined_at: datetime


class MemberUpdate(Schema):
    role: Role


class BillingDetailsIn(Schema):
    company_name: Line
    contact_email: Email
    address_line1: Line
    address_line2: OptionalLine | None = None
    city: City
    postal_code: PostalCode
    country: Country = Field(description="ISO 3166-1 alpha-2 code, e.g. DE.")
    vat_id: VatId | None = None


class BillingDetails(ResponseSchema):
    company_name: str
    contact_email: str
    address_line1: str
    address_line2: str | None = None
    city: str
    postal_code: str
    country: str
    vat_id: str | None = None


class WorkspaceBilling(ResponseSchema):
    workspace_id: uuid.UUID
    billing_details: BillingDetails | None = Field(description="Null until first set.")
