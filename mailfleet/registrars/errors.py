from __future__ import annotations

from mailfleet.exceptions import BadGateway, Conflict, Unprocessable


class RegistrarNotConfiguredError(Conflict):
    code = "registrar_not_configured"


class RegistrarFailed(BadGateway):
    code = "registrar_error"


class TooManyNames(Unprocessable):
    code = "too_many_names"


class DuplicateNames(Unprocessable):
    code = "duplicate_names"


class NamesNotForSale(Unprocessable):
    code = "names_not_for_sale"


class TooManyYears(Unprocessable):
    code = "too_many_years"
