"""The Directory API's users, for the Google fake (tests/fakes/google.py): insert, get, update
(names, password, flags and `primaryEmail`), delete, and `photos/thumbnail` update.

What Google documents, the fake checks: primaryEmail, givenName, familyName and password on
insert; names up to 60 characters; passwords 8 to 100; a primary address unique among users and
aliases (409 "Entity already exists."); a renamed user keeps its old address as an alias; photo
data in web-safe base64 of a JPEG, PNG, GIF, BMP or TIFF, `mimeType` one of those names.

Assumptions, Google not documenting the answer: a primary address on a domain that is not a
verified domain of the Workspace gets 403 "Not Authorized to access this resource/api" (on insert
and on rename); photo data that is not such an image, or is over 4 MB, gets 400
"Invalid Input: photoData" (the message Google gives for undecodable data); a user's own alias
can become its primary address (it stops being an alias).
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.fakes.google_errors import Answer, Json, api_error, not_authorized
from tests.fakes.photos import PHOTO_MAX_BYTES, SIGNATURES, image_format

if TYPE_CHECKING:
    from tests.fakes.google import _State

NAME_MAX = 60
PASSWORD_MIN, PASSWORD_MAX = 8, 100
# Google refuses these in names (its help centre lists what is allowed; these never are).
NAME_FORBIDDEN = re.compile(r"[<>=\x00-\x1f\x7f]")
EMAIL = re.compile(r"[a-z0-9._'+-]{1,64}@([a-z0-9-]+\.)+[a-z0-9-]{2,63}")
# Web-safe base64 as UserPhoto.photoData describes it: '-' and '_' for '+' and '/'; padding
# '=', or the '*' and '.' its description also names.
WEB_SAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]*[=*.]{0,2}")
PHOTO_SIZE = 96  # Google scales every uploaded photo to 96x96
# Read-only or optional booleans of a new user resource that start false.
USER_FLAGS_OFF = (
    *("isDelegatedAdmin", "agreedToTerms", "suspended", "archived", "ipWhitelisted"),
    *("changePasswordAtNextLogin", "isEnrolledIn2Sv", "isEnforcedIn2Sv"),
)
SETTABLE_FLAGS = ("changePasswordAtNextLogin", "orgUnitPath", "suspended")


def _names(given: str, family: str) -> Json:
    return {"givenName": given, "familyName": family, "fullName": f"{given} {family}"}


def _etag() -> str:
    return f'"{secrets.token_urlsafe(12)}"'


def invalid_photo() -> Answer:
    return api_error(400, "Invalid Input: photoData", "invalid")


class UserRoutes:
    """Route handlers for users; FakeGoogle mixes them in and calls them under its lock."""

    state: _State
    customer_id: str
    _ids: Iterator[int]

    def _find_user(self, key: str) -> Json | None:
        """The user with this id, primary address or alias (Google resolves all three)."""
        key = key.lower()
        for user in self.state.users.values():
            if key in (user["id"], user["primaryEmail"]) or key in user.get("aliases", []):
                return user
        return None

    def _existing_user(self, key: str) -> Json:
        user = self._find_user(key)
        if user is None:
            raise api_error(404, "Resource Not Found: userKey", "notFound")
        return user

    def _add_user(self, email: str, given: str, family: str, password: str, **extra: Any) -> Json:
        user_id = str(next(self._ids))
        user: Json = {
            "kind": "admin#directory#user",
            "id": user_id,
            "etag": _etag(),
            "primaryEmail": email.lower(),
            "name": _names(given, family),
            "isAdmin": bool(extra.pop("is_admin", False)),
            **dict.fromkeys(USER_FLAGS_OFF, False),
            "lastLoginTime": "1970-01-01T00:00:00.000Z",
            "creationTime": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "emails": [{"address": email.lower(), "primary": True}],
            "customerId": self.customer_id,
            "orgUnitPath": "/",
            "isMailboxSetup": True,
            "includeInGlobalAddressList": True,
        }
        user.update(extra)
        self.state.users[user_id] = user
        self.state.passwords[user_id] = password
        return user

    def _insert_user(self, *, body: Any, **_: Any) -> Json:
        if not isinstance(body, dict):
            raise api_error(400, "Invalid Input: primary_user_email", "invalid")
        email = self._valid_email(body.get("primaryEmail"))
        name: Json = body["name"] if isinstance(body.get("name"), dict) else {}
        given = self._valid_name(name.get("givenName"), "GivenName")
        family = self._valid_name(name.get("familyName"), "FamilyName")
        password = self._valid_password(body.get("password"))
        self._check_domain(email)
        if self._find_user(email) is not None:
            raise api_error(409, "Entity already exists.", "duplicate")
        extra = {key: body[key] for key in SETTABLE_FLAGS if key in body}
        return copy.deepcopy(self._add_user(email, given, family, password, **extra))

    def _get_user(self, *, key: str, **_: Any) -> Json:
        return copy.deepcopy(self._existing_user(key))

    def _update_user(self, *, key: str, body: Any, **_: Any) -> Json:
        user = self._existing_user(key)
        if not isinstance(body, dict):
            raise api_error(400, "Invalid JSON payload received.", "parseError")
        # Both PUT and PATCH have patch semantics for users (the API reference says so). All is
        # checked before anything changes: a refused update leaves the user as it was.
        names = None
        if isinstance(body.get("name"), dict):
            merged = {**user["name"], **{k: v for k, v in body["name"].items() if k != "fullName"}}
            given = self._valid_name(merged.get("givenName"), "GivenName")
            names = _names(given, self._valid_name(merged.get("familyName"), "FamilyName"))
        password = self._valid_password(body["password"]) if "password" in body else None
        email = None
        if "primaryEmail" in body:
            email = self._valid_email(body["primaryEmail"])
            self._check_domain(email)
            holder = self._find_user(email)
            if holder is not None and holder["id"] != user["id"]:
                raise api_error(409, "Entity already exists.", "duplicate")
        if names is not None:
            user["name"] = names
        if password is not None:
            self.state.passwords[user["id"]] = password
        if email is not None and email != user["primaryEmail"]:
            self._rename(user, email)
        user.update({flag: body[flag] for flag in SETTABLE_FLAGS if flag in body})
        # Output only, and present only while the user is suspended (the User resource says so).
        if user["suspended"]:
            user.setdefault("suspensionReason", "ADMIN")
        else:
            user.pop("suspensionReason", None)
        user["etag"] = _etag()
        return copy.deepcopy(user)

    @staticmethod
    def _rename(user: Json, email: str) -> None:
        # Google keeps the old primary address as an alias: mail to it still arrives.
        aliases = [a for a in user.get("aliases", []) if a != email] + [user["primaryEmail"]]
        user["primaryEmail"] = email
        user["aliases"] = aliases
        user["emails"] = [{"address": email, "primary": True}] + [{"address": a} for a in aliases]

    def _delete_user(self, *, key: str, **_: Any) -> None:
        user = self._existing_user(key)
        del self.state.users[user["id"]]
        del self.state.passwords[user["id"]]
        self.state.photos.pop(user["id"], None)

    def _check_domain(self, email: str) -> None:
        domain = self.state.domains.get(email.partition("@")[2])
        if domain is None or not domain["verified"]:
            raise not_authorized()

    @staticmethod
    def _valid_email(value: Any) -> str:
        email = value.strip().lower() if isinstance(value, str) else ""
        if not EMAIL.fullmatch(email):
            raise api_error(400, "Invalid Input: primary_user_email", "invalid")
        return email

    @staticmethod
    def _valid_name(value: Any, field_name: str) -> str:
        text = value.strip() if isinstance(value, str) else ""
        if not text or len(text) > NAME_MAX or NAME_FORBIDDEN.search(text):
            raise api_error(400, f"Invalid Given/Family Name: {field_name}", "invalid")
        return text

    @staticmethod
    def _valid_password(value: Any) -> str:
        if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
            raise api_error(400, "Invalid Password", "invalid")
        return value

    # --- photos

    def _update_photo(self, *, key: str, body: Any, **_: Any) -> Json:
        user = self._existing_user(key)
        if not isinstance(body, dict):
            raise api_error(400, "Invalid JSON payload received.", "parseError")
        data = _photo_data(body.get("photoData"))
        kind = image_format(data)
        declared = body.get("mimeType")
        if declared is not None and (not isinstance(declared, str) or declared not in SIGNATURES):
            raise api_error(400, "Invalid Input: mimeType", "invalid")
        if kind is None or (declared is not None and declared != kind):
            raise invalid_photo()
        self.state.photos[user["id"]] = {"mimeType": kind, "data": data}
        etag = _etag()
        user["thumbnailPhotoUrl"] = f"https://lh3.google.com/ao/fake-{user['id']}"
        user["thumbnailPhotoEtag"] = etag
        return {
            "kind": "admin#directory#user#photo",
            "id": user["id"],
            "etag": etag,
            "primaryEmail": user["primaryEmail"],
            "mimeType": kind,
            "width": PHOTO_SIZE,
            "height": PHOTO_SIZE,
            "photoData": base64.urlsafe_b64encode(data).decode(),
        }


def _photo_data(value: Any) -> bytes:
    if not isinstance(value, str) or not value or not WEB_SAFE_BASE64.fullmatch(value):
        raise invalid_photo()
    text = value.rstrip("=*.")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise invalid_photo() from exc
    if len(data) > PHOTO_MAX_BYTES:
        raise invalid_photo()
    return data
