"""The errors of exports, each with its HTTP status and stable code."""

from __future__ import annotations

from mailfleet.exceptions import BadGateway, NotFound, RateLimited, Unprocessable


class ExportAccountNotFound(NotFound):
    code = "export_account_not_found"


class ExportNotFound(NotFound):
    code = "export_not_found"


class InvalidExportAccount(Unprocessable):
    """A credential missing or unknown for the app, a bad label, URL or app-specific id."""

    code = "invalid_export_account"


class ExportAccountRequired(Unprocessable):
    """The workspace has no account for the app, or several and none was named."""

    code = "export_account_required"


class ExportAppNotSupported(Unprocessable):
    """No API client for the app yet (CSV still works), or it has no sub-workspaces."""

    code = "export_app_not_supported"


class NoMailboxSelected(Unprocessable):
    code = "no_mailbox_selected"


class ExportLimitReached(RateLimited):
    """Every selected mailbox was exported as often as the window allows."""

    code = "export_limit_reached"


class ExportAppError(BadGateway):
    code = "export_app_error"
