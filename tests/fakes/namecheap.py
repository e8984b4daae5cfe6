"""A fake of Namecheap's XML API on 127.0.0.1 (`/xml.response`): the global parameters
(`ApiUser`, `ApiKey`, `UserName`, `ClientIp`, `Command`, in the query string or a POST form)
and the commands Mailfleet uses, answering `<ApiResponse
xmlns="http://api.namecheap.com/xml.response" Status="OK|ERROR">` with `<Errors><Error
Number="...">` on failure, as documented:

- `namecheap.domains.check` (`DomainList`): `<DomainCheckResult Domain Available ErrorNo
  Description IsPremiumName PremiumRegistrationPrice PremiumRenewalPrice ...>`; names are
  available unless in `taken` or `registered`, premium when in `premium`.
- `namecheap.users.getPricing` (`ProductType=DOMAIN`, `ProductName`, optional `ActionName`:
  without it every action's category, REGISTER and RENEW here):
  `<UserGetPricingResult><ProductType Name="DOMAIN"><ProductCategory Name="REGISTER"><Product
  Name="com"><Price Duration="1" DurationType="YEAR" Price YourPrice Currency>`; a TLD in
  `unsupported_tlds` answers error 2011298 (not offered).
- `namecheap.domains.create` (POST): needs `DomainName`, `Years` and every contact role's
  required fields; debits `balance` (cents) by the price times the years, short of it error
  2528166 "Insufficient funds"; `outages` makes the next N creates answer HTTP 503, and
  `lost_answers` makes the next N register the name and then answer 503 (the answer lost on
  the way back). Answers `<DomainCreateResult Domain Registered ChargedAmount DomainID
  OrderID TransactionID WhoisguardEnable NonRealTimeDomain>`.
- `namecheap.domains.getInfo` (`DomainName`): `<DomainGetInfoResult DomainName ID
  IsOwner>` with `<DomainDetails><CreatedDate/><ExpiredDate>MM/DD/YYYY` for a registered
  name, else error 2019166 "Domain not found".
- `namecheap.domains.renew` (POST: `DomainName`, `Years`): moves the registered name's
  `expires` (a date) by the years and debits `balance` by RENEWAL per year (short: 2528166);
  `renew_outages` makes the next N answer HTTP 503 without renewing, `lost_renewals` the next N
  renew and then answer 503. Answers `<DomainRenewResult DomainName DomainID Renew OrderID
  TransactionID ChargedAmount><DomainDetails><ExpiredDate>M/D/YYYY h:mm:ss AM`.
- `namecheap.domains.dns.setCustom` (POST: `SLD`, `TLD`, `Nameservers`).

For benchmarks (both off by default): `latency` seconds added to every request, and
`max_concurrency` requests served at once (0: any number); one past it is refused with HTTP
429. `peak` is the most requests that were in flight at once (refused ones included) and
`refused` how many were turned away.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import quoteattr

from tests.fakes.server import FakeServer

API_USER = "mfuser"
API_KEY = "nc_test_key"
CLIENT_IP = "127.0.0.1"
PRICE = "9.58"
RENEWAL = "14.58"
PREMIUM_PRICE = "2400.00"
REQUIRED_CONTACT = (
    "FirstName",
    "LastName",
    "Address1",
    "City",
    "StateProvince",
    "PostalCode",
    "Country",
    "Phone",
    "EmailAddress",
)
ROLES = ("Registrant", "Tech", "Admin", "AuxBilling")


@dataclass
class Request:
    method: str
    path: str
    command: str
    params: dict[str, str]


@dataclass
class FakeNamecheap(FakeServer):
    taken: set[str] = field(default_factory=set)
    premium: set[str] = field(default_factory=set)
    unsupported_tlds: set[str] = field(default_factory=set)
    balance: int = 1_000_000
    outages: int = 0
    lost_answers: int = 0
    renew_outages: int = 0
    lost_renewals: int = 0
    registered: dict[str, dict[str, str]] = field(default_factory=dict)
    nameservers: dict[str, list[str]] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    thread_name = "fake-namecheap"
    base_url: str = ""
    # More accounts (API user -> API key) beside API_USER/API_KEY; each acts as its own user.
    users: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    max_concurrency: int = 0
    peak: int = 0
    refused: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _flight_lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/xml.response"
        self.serve(server)

    def arrive(self) -> bool:
        """One more request in flight; False when that is past `max_concurrency`."""
        with self._flight_lock:
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
            admitted = not self.max_concurrency or self._in_flight <= self.max_concurrency
            if not admitted:
                self.refused += 1
            return admitted

    def leave(self) -> None:
        with self._flight_lock:
            self._in_flight -= 1

    def commands(self, command: str) -> list[Request]:
        return [r for r in self.log if r.command == command]

    def answer(self, params: dict[str, str]) -> tuple[int, str]:
        command = params.get("Command", "").lower()
        known = {API_USER: API_KEY, **self.users}
        user = params.get("ApiUser", "")
        if known.get(user) != params.get("ApiKey") or params.get("UserName") != user:
            return _error(
                command, "1011102", "API Key is invalid or API access has not been enabled"
            )
        if params.get("ClientIp") != CLIENT_IP:
            return _error(command, "1011150", "Invalid request IP")
        handler = {
            "namecheap.domains.check": self._check,
            "namecheap.users.getpricing": self._pricing,
            "namecheap.domains.create": self._create,
            "namecheap.domains.getinfo": self._info,
            "namecheap.domains.dns.setcustom": self._set_custom,
            "namecheap.domains.renew": self._renew,
        }.get(command)
        if handler is None:
            return _error(command, "1010104", "Parameter Command is missing or unknown")
        return handler(command, params)

    def _check(self, command: str, params: dict[str, str]) -> tuple[int, str]:
        names = [n.strip().lower() for n in params.get("DomainList", "").split(",") if n.strip()]
        if len(names) > 50:
            return _error(command, "2011169", "Only 50 domains are allowed in a single check")
        rows = []
        for name in names:
            premium = name in self.premium
            available = name not in self.taken and name not in self.registered
            price = PREMIUM_PRICE if premium else "0"
            rows.append(
                f"<DomainCheckResult Domain={quoteattr(name)} "
                f'Available="{str(available).lower()}" ErrorNo="0" Description="" '
                f'IsPremiumName="{str(premium).lower()}" PremiumRegistrationPrice="{price}" '
                f'PremiumRenewalPrice="{price}" PremiumRestorePrice="0" '
                f'PremiumTransferPrice="{price}" IcannFee="0" EapFee="0"/>'
            )
        return _ok(command, "".join(rows))

    def _pricing(self, command: str, params: dict[str, str]) -> tuple[int, str]:
        tld = params.get("ProductName", "").lower()
        action = params.get("ActionName", "").upper()
        if params.get("ProductType") != "DOMAIN" or tld in self.unsupported_tlds or not tld:
            return _error(command, "2011298", f"ProductName {tld!r} is not offered")
        categories = []
        for name, price in (("REGISTER", PRICE), ("RENEW", RENEWAL)):
            if action and action != name:
                continue
            rows = "".join(
                f'<Price Duration="{years}" DurationType="YEAR" Price="{price}" '
                f'RegularPrice="{price}" YourPrice="{price}" CouponPrice="" Currency="USD"/>'
                for years in range(1, 11)
            )
            categories.append(
                f'<ProductCategory Name="{name}"><Product Name="{tld}">{rows}</Product>'
                "</ProductCategory>"
            )
        body = (
            '<UserGetPricingResult><ProductType Name="DOMAIN">'
            f"{''.join(categories)}</ProductType></UserGetPricingResult>"
        )
        return _ok(command, body)

    def _create(self, command: str, params: dict[str, str]) -> tuple[int, str]:
        with self._lock:
            if self.outages > 0:
                self.outages -= 1
                return 503, "<html><body>Service Unavailable</body></html>"
            missing = [
                f"{role}{key}"
                for role in ROLES
                for key in REQUIRED_CONTACT
                if not params.get(f"{role}{key}")
            ]
            if missing:
                return _error(command, "2010323", f"Missing contact fields: {', '.join(missing)}")
            name = params.get("DomainName", "").lower()
            tld = name.rsplit(".", 1)[-1]
            if tld in self.unsupported_tlds:
                return _error(command, "2030280", "TLD is not supported in API")
            if name in self.taken or name in self.registered:
                return _error(command, "3019166", "Domain not available")
            if name in self.premium:
                return _error(command, "2515623", "Domain is premium while considered regular")
            years = int(params.get("Years") or "0")
            if not 1 <= years <= 10:
                return _error(command, "2015167", "Validation error from Years")
            cost = int(Decimal(PRICE) * 100) * years
            if self.balance < cost:
                return _error(command, "2528166", "Insufficient funds to complete the order")
            self.balance -= cost
            domain_id = str(5000 + len(self.registered))
            expires = date.today() + timedelta(days=365 * years)
            self.registered[name] = {"id": domain_id, "expires": expires.isoformat(), **params}
            self.nameservers[name] = params.get("Nameservers", "").split(",")
            if self.lost_answers > 0:
                self.lost_answers -= 1
                return 503, "<html><body>Gateway Timeout</body></html>"
        charged = f"{Decimal(cost) / 100:.2f}"
        return _ok(
            command,
            f'<DomainCreateResult Domain={quoteattr(name)} Registered="true" '
            f'ChargedAmount="{charged}" DomainID="{domain_id}" OrderID="{domain_id}1" '
            f'TransactionID="{domain_id}2" WhoisguardEnable="true" NonRealTimeDomain="false"/>',
        )

    def _info(self, command: str, params: dict[str, str]) -> tuple[int, str]:
        name = params.get("DomainName", "").lower()
        found = self.registered.get(name)
        if found is None:
            return _error(command, "2019166", "Domain not found")
        return _ok(
            command,
            f'<DomainGetInfoResult Status="Ok" ID="{found["id"]}" DomainName={quoteattr(name)} '
            f'OwnerName="{API_USER}" IsOwner="true" IsPremium="false"><DomainDetails>'
            f"<CreatedDate>01/01/2026</CreatedDate><ExpiredDate>{_us(found)}</ExpiredDate>"
            "</DomainDetails></DomainGetInfoResult>",
        )

    def register_existing(self, name: str, expires: date) -> None:
        """A name already in the account (bought earlier), ending on `expires`."""
        self.registered[name] = {"id": str(5000 + len(self.registered)), "expires": str(expires)}

    def expires(self, name: str) -> date:
        return date.fromisoformat(self.registered[name]["expires"])

    def _renew(self, command: str, params: dict[str, str]) -> tuple[int, str]:
        with self._lock:
            if self.renew_outages > 0:
                self.renew_outages -= 1
                return 503, "<html><body>Service Unavailable</body></html>"
            name = params.get("DomainName", "").lower()
            found = self.registered.get(name)
            if found is None:
                return _error(command, "2019166", "Domain not found")
            years = int(params.get("Years") or "0")
            if not 1 <= years <= 10:
                return _error(command, "2015167", "Validation error from Years")
            cost = int(Decimal(RENEWAL) * 100) * years
            if self.balance < cost:
                return _error(command, "2528166", "Insufficient funds to complete the order")
            self.balance -= cost
            old = self.expires(name)
            found["expires"] = str(old.replace(year=old.year + years))
            if self.lost_renewals > 0:
                self.lost_renewals -= 1
                return 503, "<html><body>Gateway Timeout</body></html>"
        new = self.expires(name)
        charged = f"{Decimal(cost) / 100:.4f}"
        return _ok(
            command,
            f'<DomainRenewResult DomainName={quoteattr(name)} DomainID="{found["id"]}" '
            f'Renew="true" OrderID="{found["id"]}7" TransactionID="{found["id"]}8" '
            f'ChargedAmount="{charged}"><DomainDetails>'
            f"<ExpiredDate>{new.month}/{new.day}/{new.year} 11:31:13 AM</ExpiredDate>"
            "<NumYears>0</NumYears></DomainDetails></DomainRenewResult>",
        )

    def _set_custom(self, command: str, params: dict[str, str]) -> tuple[int, str]:
        name = f"{params.get('SLD', '')}.{params.get('TLD', '')}".lower()
        if name not in self.registered:
            return _error(command, "2019166", "Domain not found")
        self.nameservers[name] = params.get("Nameservers", "").split(",")
        return _ok(command, f'<DomainDNSSetCustomResult Domain={quoteattr(name)} Updated="true"/>')


def _us(found: dict[str, str]) -> str:
    expires = date.fromisoformat(found.get("expires") or "2027-01-01")
    return expires.strftime("%m/%d/%Y")


def _envelope(command: str, status: str, errors: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<ApiResponse xmlns="http://api.namecheap.com/xml.response" Status="{status}">'
        f"<Errors>{errors}</Errors><Warnings/>"
        f"<RequestedCommand>{command}</RequestedCommand>"
        f'<CommandResponse Type="{command}">{body}</CommandResponse>'
        "<Server>FAKE</Server><GMTTimeDifference>--5:00</GMTTimeDifference>"
        "<ExecutionTime>0.01</ExecutionTime></ApiResponse>"
    )


def _ok(command: str, body: str) -> tuple[int, str]:
    return 200, _envelope(command, "OK", "", body)


def _error(command: str, number: str, text: str) -> tuple[int, str]:
    # Namecheap answers its errors with HTTP 200 and Status="ERROR".
    error = f'<Error Number="{number}">{text}</Error>'
    return 200, _envelope(command, "ERROR", error, "")


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        self._serve(dict(parse_qsl(urlsplit(self.path).query)))

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        self._serve({**dict(parse_qsl(urlsplit(self.path).query)), **form})

    def _serve(self, params: dict[str, str]) -> None:
        fake: FakeNamecheap = self.server.fake
        path = urlsplit(self.path).path
        fake.log.append(Request(self.command, path, params.get("Command", "").lower(), params))
        admitted = fake.arrive()
        try:
            if fake.latency:
                time.sleep(fake.latency)
            if not admitted:
                status, answer = 429, "<html><body>Too Many Requests</body></html>"
            elif path != "/xml.response":
                status, answer = 404, "Not found"
            else:
                status, answer = fake.answer(params)
        finally:
            fake.leave()
        payload = answer.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def app_settings(fake: FakeNamecheap, **overrides: Any) -> dict[str, Any]:
    """Settings keyword arguments selling domains through `fake` (registrar "namecheap")."""
    return {
        "registrar": "namecheap",
        "namecheap_api_user": API_USER,
        "namecheap_api_key": API_KEY,
        "namecheap_client_ip": CLIENT_IP,
        "namecheap_api_base": fake.base_url,
        "registrar_contact_phone": "+1.5555555555",
        **overrides,
    }
