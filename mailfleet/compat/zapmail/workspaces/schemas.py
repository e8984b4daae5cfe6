"""Zapmail's workspace, member, invitation and billing-details shapes (reference 3.2, 3.3,
5.3, 5.4), and how they map onto Mailfleet's billing details."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints

from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.compat.zapmail.envelope import PageOf
from mailfleet.models.enums import Role
from mailfleet.workspaces.schemas import City, Country, Line, OptionalLine, PostalCode

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
ZapmailRole = Annotated[str, Field(pattern="^(ADMIN|EDITOR|VIEWER)$", examples=["EDITOR"])]
# The document's examples give the country as "US" and once as "USA": both are the US.
ZapmailCountry = Annotated[
    Country, BeforeValidator(lambda v: "US" if isinstance(v, str) and v.upper() == "USA" else v)
]


class BillingDetailsIn(CamelIn):
    first_name: Short
    last_name: Short
    company: Line
    address_line_one: Line
    address_line_two: OptionalLine | None = None
    address_line_three: OptionalLine | None = None
    city: City
    state: Short = ""
    country: ZapmailCountry
    postal_code: PostalCode
    phone_cc: Short = ""
    phone: Short = ""
    language_preference: Short = "en"


class BillingDetailsV1(BillingDetailsIn):
    workspace_id: uuid.UUID


class BillingDetails(CamelOut):
    id: uuid.UUID
    user_id: uuid.UUID
    first_name: str
    last_name: str
    workspace_id: uuid.UUID
    company: str
    address_line_one: str
    address_line_two: str | None
    address_line_three: str | None
    city: str
    state: str
    country: str
    postal_code: str
    phone_cc: str
    phone: str
    language_preference: str


class ListedWorkspace(CamelOut):
    id: uuid.UUID
    name: str
    domain_count: str = Field(examples=["15"], description="A string, as documented.")
    mailbox_count: str = Field(examples=["8"], description="A string, as documented.")
    billing_details: BillingDetails | None


class Workspace(CamelOut):
    id: uuid.UUID
    name: str
    user_id: uuid.UUID
    updated_at: Timestamp
    created_at: Timestamp
    deleted_at: None = None


class RenamedWorkspace(CamelOut):
    """The update example's key order (the create example's differs)."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: None = None


class CreateWorkspace(CamelIn):
    name: Name
    billing_details: BillingDetailsIn


class CreateWorkspaceV1(CamelIn):
    name: Name


class RenameWorkspace(CamelIn):
    id: uuid.UUID
    name: Name


class Member(CamelOut):
    id: uuid.UUID = Field(description="The member's user id: the memberId of the other calls.")
    email: str
    first_name: str
    last_name: str
    role: str = Field(examples=["ADMIN"])
    joined_at: Timestamp


class MemberPage(PageOf):
    members: list[Member]


class RoleIn(CamelIn):
    role: ZapmailRole


class InvitationIn(CamelIn):
    email: str = Field(
        min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$", examples=["mate@example.com"]
    )
    role: ZapmailRole


class Invitation(CamelOut):
    id: uuid.UUID
    email: str
    role: str = Field(examples=["EDITOR"])
    status: str = Field(examples=["PENDING"], description="PENDING, ACCEPTED, REJECTED, REVOKED")
    created_at: Timestamp
    expires_at: Timestamp


class InvitationPage(PageOf):
    invitations: list[Invitation]


def zapmail_role(role: Role) -> str:
    """Mailfleet's OWNER is Zapmail's ADMIN (Zapmail's owner is the account holder)."""
    return Role.ADMIN.value if role == Role.OWNER else role.value


def stored(details: BillingDetailsIn, email: str) -> dict[str, str]:
    """Mailfleet's billing keys (what invoices, checkout and registrars read) plus Zapmail's
    own, so both APIs read them back."""
    values = {
        "company_name": details.company,
        "contact_email": email,
        "address_line1": details.address_line_one,
        "city": details.city,
        "postal_code": details.postal_code,
        "country": details.country,
        "first_name": details.first_name,
        "last_name": details.last_name,
        "state": details.state,
        "phone_cc": details.phone_cc,
        "phone": details.phone,
        "language_preference": details.language_preference,
    }
    for key, value in (
        ("address_line2", details.address_line_two),
        ("address_line3", details.address_line_three),
    ):
        if value:
            values[key] = value
    return values


def billing(workspace_id: uuid.UUID, owner_id: uuid.UUID, details: dict[str, Any] | None) -> Any:
    """The stored details as Zapmail's BillingDetails (None until set)."""
    if not details:
        return None
    return {
        # Mailfleet keeps one set of details per workspace: the workspace's id names it.
        "id": workspace_id,
        "userId": owner_id,
        "firstName": details.get("first_name", ""),
        "lastName": details.get("last_name", ""),
        "workspaceId": workspace_id,
        "company": details.get("company_name", ""),
        "addressLineOne": details.get("address_line1", ""),
        "addressLineTwo": details.get("address_line2"),
        "addressLineThree": details.get("address_line3"),
        "city": details.get("city", ""),
        "state": details.get("state", ""),
        "country": details.get("country", ""),
        "postalCode": details.get("postal_code", ""),
        "phoneCc": details.get("phone_cc", ""),
        "phone": details.get("phone", ""),
        "languagePreference": details.get("language_preference", "en"),
    }


def member(view: Any) -> dict[str, Any]:
    """A member as Zapmail lists it; Mailfleet's one name is split at its first space."""
    first, _, last = (view.name or "").partition(" ")
    return {
        "id": view.user_id,
        "email": view.email,
        "firstName": first,
        "lastName": last,
        "role": zapmail_role(view.role),
        "joinedAt": view.joined_at,
    }


def invitation(view: Any) -> dict[str, Any]:
    return {
        "id": view.id,
        "email": view.email,
        "role": zapmail_role(view.role),
        "status": view.status.value,
        "createdAt": view.created_at,
        "expiresAt": view.expires_at,
    }


def listed(summary: Any) -> dict[str, Any]:
    workspace = summary.workspace
    return {
        "id": workspace.id,
        "name": workspace.name,
        "domainCount": str(summary.domain_count),
        "mailboxCount": str(summary.mailbox_count),
        "billingDetails": billing(workspace.id, workspace.owner_id, summary.billing_details),
    }


def created(view: Any, updated_at: Any = None) -> dict[str, Any]:
    """A created or renamed workspace, in the documented key order."""
    return {
        "id": view.id,
        "name": view.name,
        "userId": view.owner_id,
        "updatedAt": updated_at or view.created_at,
        "createdAt": view.created_at,
        "deletedAt": None,
    }


def renamed(view: Any, updated_at: Any) -> dict[str, Any]:
    """A renamed workspace, in the key order of the document's update example."""
    return {
        "id": view.id,
        "userId": view.owner_id,
        "name": view.name,
        "createdAt": view.created_at,
        "updatedAt": updated_at,
        "deletedAt": None,
    }
