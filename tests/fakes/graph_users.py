"""Graph's users, for the Graph fake (tests/fakes/graph.py): create with Graph's validation,
get/update/delete by id or userPrincipalName (`$select`), assignLicense, and the profile photo
(`PUT`/`PATCH /users/{id}/photo/$value`).

A licence gives the user an Exchange mailbox at once: `mail` becomes the userPrincipalName, its
primary `SMTP:` proxy address. A change of `mail` keeps the old address as a secondary `smtp:`
proxy address, as Exchange does, and an address another user holds (userPrincipalName, mail or
proxy address) is an ObjectConflict.

The photo must be JPEG or PNG bytes under the Content-Type that says so, at most 4 MB (Graph's
documented request limit). Graph does not document its answers to a wrong photo, so these are
approximations: 413 RequestEntityTooLarge for a larger one, 415 UnsupportedMediaType for another
Content-Type, 400 ImageNotValid for bytes that are not the image they claim to be. A user whose
Exchange mailbox does not exist yet (`without_mailbox`: licensing is asynchronous) gets
Exchange's widely reported 404 MailboxNotEnabledForRESTAPI.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fakes.graph_errors import GraphError, Json, bad_request, invalid_property, not_found
from tests.fakes.photos import PHOTO_MAX_BYTES, image_format

# The properties GET /users returns without $select (Graph's default set).
DEFAULT_USER_PROPERTIES = (
    *("id", "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone"),
    *("officeLocation", "preferredLanguage", "surname", "userPrincipalName"),
)
# Characters Entra ID refuses in mailNickname.
NICKNAME_UNSAFE = re.compile(r"[@()\\\[\]\";:<>,\s]")
PHOTO_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}


@dataclass
class Upload:
    """A request body that is not JSON (a photo): its Content-Type and bytes."""

    content_type: str
    data: bytes


def _password_ok(password: Any) -> bool:
    """Entra ID's default policy: 8-256 characters, three of the four character classes."""
    if not isinstance(password, str) or not 8 <= len(password) <= 256:
        return False
    classes = (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    return sum(any(test(c) for c in password) for test in classes) >= 3


def _smtp_addresses(user: Json) -> list[str]:
    """The user's mail addresses, primary first, lower case."""
    proxies = [p.partition(":")[2].lower() for p in user.get("proxyAddresses") or []]
    return [a for a in dict.fromkeys([str(user.get("mail") or "").lower(), *proxies]) if a]


class UserRoutes:
    """Route handlers for users; FakeGraph mixes them in and calls them under its lock."""

    users: dict[str, Json]  # id -> user, passwordProfile included
    domains: dict[str, Json]
    skus: dict[str, int]
    photos: dict[str, tuple[str, bytes]]  # user id -> (Content-Type, bytes)
    without_mailbox: set[str]  # user ids whose photo Exchange cannot store yet

    def user(self, key: str) -> Json | None:
        """A user by id or userPrincipalName (case-insensitive), as stored."""
        key = key.lower()
        found = self.users.get(key)
        if found is None:
            found = next(
                (u for u in self.users.values() if u["userPrincipalName"].lower() == key), None
            )
        return found

    def _user(self, key: str) -> Json:
        found = self.user(key)
        if found is None:
            raise not_found(key)
        return found

    def _check_user_fields(self, body: Json) -> None:
        if not isinstance(body.get("accountEnabled", True), bool):
            raise invalid_property("accountEnabled")
        limits = {"displayName": 256, "givenName": 64, "surname": 64, "mailNickname": 64}
        for name, most in limits.items():
            value = body.get(name, "set")
            if value is None and name in ("givenName", "surname"):
                continue  # null clears a name
            if not isinstance(value, str) or not 1 <= len(value) <= most:
                raise invalid_property(name)
            if name == "mailNickname" and NICKNAME_UNSAFE.search(value):
                raise invalid_property(name)
        location = body.get("usageLocation")
        if location is not None and not re.fullmatch(r"[A-Z]{2}", str(location)):
            raise invalid_property("usageLocation")
        if "passwordProfile" in body:
            profile = body["passwordProfile"]
            if not isinstance(profile, dict) or "password" not in profile:
                raise bad_request("A password must be specified to create a new user.")
            if not _password_ok(profile["password"]):
                raise bad_request(
                    "The specified password does not comply with password complexity "
                    "requirements. Please provide a different password."
                )
        if "userPrincipalName" in body:
            upn = body["userPrincipalName"]
            local, at, domain = upn.rpartition("@") if isinstance(upn, str) else ("", "", "")
            if not at or not local or NICKNAME_UNSAFE.search(local):
                raise bad_request("Property userPrincipalName is invalid.")
            known = self.domains.get(domain.lower())
            if known is None or not known["isVerified"]:
                raise bad_request(
                    "The domain portion of the userPrincipalName property is invalid. You must "
                    "use one of the verified domain names in your organization.",
                    target="userPrincipalName",
                    code="InvalidValue",
                )

    def _conflict(self, upn: str, own_id: str | None = None) -> None:
        existing = self.user(upn)
        if existing is not None and existing["id"] != own_id:
            message = (
                "Another object with the same value for property userPrincipalName already exists."
            )
            raise bad_request(message, target="userPrincipalName", code="ObjectConflict")

    def _create_user(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise bad_request("Unable to read JSON request payload.")
        for name in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName"):
            if body.get(name) is None:
                raise invalid_property(name)
        if "passwordProfile" not in body:
            raise bad_request("A password must be specified to create a new user.")
        self._check_user_fields(body)
        self._conflict(body["userPrincipalName"])
        user: Json = {key: None for key in DEFAULT_USER_PROPERTIES}
        user.update(businessPhones=[], assignedLicenses=[], usageLocation=None, proxyAddresses=[])
        fields = copy.deepcopy(body)
        if "mail" in fields:
            self._set_mail(user, fields.pop("mail"))
        user.update(fields)
        user["id"] = str(uuid.uuid4())
        self.users[user["id"]] = user
        return 201, self._visible(user, {})

    @staticmethod
    def _visible(user: Json, query: dict[str, str]) -> Json:
        wanted = [p.strip() for p in query.get("$select", "").split(",") if p.strip()]
        keys = ["id", *wanted] if wanted else DEFAULT_USER_PROPERTIES
        # Graph never returns a password.
        return {key: copy.deepcopy(user.get(key)) for key in keys if key != "passwordProfile"}

    def _get_user(self, *, key: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, self._visible(self._user(key), query)

    def _update_user(self, *, key: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        user = self._user(key)
        if not isinstance(body, dict) or "id" in body:
            raise bad_request("Unable to read JSON request payload.")
        self._check_user_fields(body)
        if "userPrincipalName" in body:
            self._conflict(body["userPrincipalName"], own_id=user["id"])
        changes = copy.deepcopy(body)
        if "mail" in changes:
            self._set_mail(user, changes.pop("mail"))
        user.update(changes)
        return 204, None

    def _set_mail(self, user: Json, value: Any) -> None:
        local, at, domain = value.rpartition("@") if isinstance(value, str) else ("", "", "")
        if not at or not local or NICKNAME_UNSAFE.search(local) or "." not in domain:
            raise invalid_property("mail")
        address = value.lower()
        for other in self.users.values():
            if other is user:
                continue
            if address in (other["userPrincipalName"].lower(), *_smtp_addresses(other)):
                raise bad_request(
                    "Another object with the same value for property proxyAddresses already "
                    "exists.",
                    target="proxyAddresses",
                    code="ObjectConflict",
                )
        # Exchange keeps the previous addresses as secondary ones: mail to them still arrives.
        kept = [a for a in _smtp_addresses(user) if a != address]
        user["proxyAddresses"] = [f"SMTP:{value}", *(f"smtp:{a}" for a in kept)]
        user["mail"] = value

    def _delete_user(self, *, key: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        # Graph moves it to the recycle bin (deletedItems), which the fake does not keep.
        user_id = self._user(key)["id"]
        del self.users[user_id]
        self.photos.pop(user_id, None)
        return 204, None

    def _put_photo(self, *, key: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        user = self._user(key)
        if not isinstance(body, Upload) or not body.data:
            raise GraphError(400, "BadRequest", "The request body must be the photo's bytes.")
        media_type = body.content_type.partition(";")[0].strip().lower()
        if media_type not in PHOTO_TYPES:
            raise GraphError(
                415,
                "UnsupportedMediaType",
                f"Content-Type '{body.content_type}' is not supported; use image/jpeg or "
                "image/png.",
            )
        if len(body.data) > PHOTO_MAX_BYTES:
            raise GraphError(
                413, "RequestEntityTooLarge", "The request exceeds the maximum size of 4 MB."
            )
        if image_format(body.data) != PHOTO_TYPES[media_type]:
            raise GraphError(400, "ImageNotValid", f"The photo is not a valid {media_type} image.")
        if user["id"] in self.without_mailbox:
            raise GraphError(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        self.photos[user["id"]] = (media_type, body.data)
        return 200, None

    def _assign_license(self, *, key: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        user = self._user(key)
        adds, removes = (body or {}).get("addLicenses"), (body or {}).get("removeLicenses")
        if not isinstance(adds, list) or not isinstance(removes, list):
            raise bad_request("Both addLicenses and removeLicenses must be given.")
        if not user.get("usageLocation"):
            raise bad_request(
                "License assignment cannot be done for user with invalid usage location."
            )
        kept = [entry for entry in user["assignedLicenses"] if entry["skuId"] not in removes]
        for entry in adds:
            sku = entry.get("skuId") if isinstance(entry, dict) else None
            if sku not in self.skus:
                raise bad_request(f"License {sku} does not correspond to a valid company License.")
            if any(held["skuId"] == sku for held in kept):
                continue  # assigning a licence the user has changes nothing
            in_use = sum(
                a["skuId"] == sku for u in self.users.values() for a in u["assignedLicenses"]
            )
            if in_use >= self.skus[sku]:
                raise bad_request(f"Subscription {sku} does not have any available licenses.")
            kept.append({"skuId": sku, "disabledPlans": entry.get("disabledPlans") or []})
        user["assignedLicenses"] = kept
        if kept and not user.get("mail"):
            # The licence brings an Exchange mailbox, addressed by the userPrincipalName.
            self._set_mail(user, user["userPrincipalName"])
        return 200, self._visible(user, {})
