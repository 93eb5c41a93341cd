"""A strict local fake of the slice of the Cloudflare API v4 the cloudflare provider uses.

It follows Cloudflare's public documentation:

* API reference, https://developers.cloudflare.com/api/ : "Zones > List Zones"
  (``GET /zones?name=``), "DNS > Records > List DNS Records"
  (``GET /zones/{zone_id}/dns_records?type=&name=&page=&per_page=``), "Create DNS
  Record" (``POST``, JSON ``{"type","name","content","ttl"}``) and "Delete DNS Record"
  (``DELETE /zones/{zone_id}/dns_records/{dns_record_id}``), with the response envelope
  ``{"success","errors":[{"code","message","error_chain"?}],"messages","result",
  "result_info":{"page","per_page","count","total_count","total_pages"}}``; the TXT
  record model ("content must consist of quoted character strings (RFC 1035)").
* Fundamentals > API > Get started / Troubleshooting,
  https://developers.cloudflare.com/fundamentals/api/ : ``Authorization: Bearer <token>``
  for API tokens, ``X-Auth-Email`` + ``X-Auth-Key`` for the Global API Key; a token only
  sees the zones its "Zone Resources" include, and needs Zone:Read and DNS:Edit.
* Fundamentals > API > Rate limits,
  https://developers.cloudflare.com/fundamentals/api/reference/limits/ : HTTP 429 with
  ``Retry-After``, error 971 "Please wait and consider throttling your request speed".
* The error codes Cloudflare sends, as its API returns them (quoted in public bug
  reports): 400 6003 "Invalid request headers" with an ``error_chain`` of 6102/6103
  "Invalid format for X-Auth-Email/X-Auth-Key header", 6111 "Invalid format for
  Authorization header", 6105 "Invalid Content-Type header, valid values are
  application/json,multipart/form-data"; 400 9106 "Missing X-Auth-Key, X-Auth-Email or
  Authorization headers"; 403 9103 "Unknown X-Auth-Key or X-Auth-Email"; 403 9109
  "Invalid access token"; 403 10000 "Authentication error" (a credential without the
  permission); 400 7003 "Could not route to ..., perhaps your object identifier is
  invalid?" with 7000 "No route for that URI"; 405 7001 "Method ... not available for
  that URI."; 400 81058 "An identical record already exists."; 404 81044 "Record does
  not exist.".

What is simplified, so that nobody relies on it: only TXT records; ``per_page`` is capped
at this fake's ``per_page`` (2 by default, smaller than Cloudflare's minimum of 5) so that
a client has to page; a duplicate is a record with the same name and the same value,
quoted or not; tokens name their zones by name; no ``match``, ``order`` or ``content``
filters, no proxied records, no account scoping.
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.integration.servers.loopback import LoopbackHTTPServer

API_PREFIX = "/client/v4"
_TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_-]{40}$")
_KEY_FORMAT = re.compile(r"^[0-9a-f]{37}$")
_EMAIL_FORMAT = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_FORMAT = re.compile(r"^[0-9a-f]{32}$")


def new_token() -> str:
    """A string in the format of a Cloudflare API token (40 characters)."""
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:40]


def new_key() -> str:
    """A string in the format of a Cloudflare Global API Key (37 hex digits)."""
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:37]


def unquote(content: str) -> str:
    """The value of a TXT ``content``: the quoted strings joined, or the text as it is."""
    text = content.strip()
    if not text.startswith('"'):
        return text
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', text)).replace('\\"', '"')


@dataclass
class Grant:
    """What one credential may do: zone names it reads (Zone:Read) and edits (DNS:Edit).

    ``None`` means every zone (a Global API Key, or "All zones").
    """

    zone_read: frozenset[str] | None = None
    dns_edit: frozenset[str] | None = None

    def reads(self, zone: str) -> bool:
        return self.zone_read is None or zone in self.zone_read

    def edits(self, zone: str) -> bool:
        return self.dns_edit is None or zone in self.dns_edit


@dataclass
class Record:
    id: str
    zone_id: str
    zone_name: str
    type: str
    name: str
    content: str
    ttl: int
    created_on: str

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "zone_id": self.zone_id,
            "zone_name": self.zone_name,
            "name": self.name,
            "type": self.type,
            "content": self.content,
            "proxiable": False,
            "proxied": False,
            "ttl": self.ttl,
            "settings": {},
            "meta": {},
            "comment": None,
            "tags": [],
            "created_on": self.created_on,
            "modified_on": self.created_on,
        }


@dataclass
class Seen:
    """One request as the server saw it (headers included, for header assertions)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0


class _Refusal(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors


def _error(code: int, message: str, chain: Iterable[tuple[int, str]] = ()) -> dict[str, Any]:
    item: dict[str, Any] = {"code": code, "message": message}
    links = [{"code": c, "message": m} for c, m in chain]
    if links:
        item["error_chain"] = links
    return item


@dataclass
class CloudflareServer(LoopbackHTTPServer):
    """The fake, on 127.0.0.1 and a free port; ``url`` is its API base URL.

    Use it as a context manager. ``add_token``/``add_key`` create credentials,
    ``throttle(n)`` answers the next ``n`` requests with 429, ``seen`` records the
    requests, ``txt_values(fqdn)`` reads the values the fake holds.
    """

    zones: tuple[str, ...] = ("example.test",)
    per_page: int = 2
    retry_after: str = "1"
    zone_ids: dict[str, str] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    tokens: dict[str, Grant] = field(default_factory=dict)
    keys: dict[tuple[str, str], Grant] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    #: Called as ``(action, name, content)`` after each create ("add") and delete
    #: ("delete") through the API: a test bridges the records to a real DNS server.
    on_change: list[Callable[[str, str, str], None]] = field(default_factory=list)
    _throttle: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for zone in self.zones:
            self.zone_ids.setdefault(zone, uuid.uuid4().hex)

    # --- Set-up and inspection ---

    @property
    def url(self) -> str:
        return f"{self.address}{API_PREFIX}"

    def add_token(
        self,
        token: str | None = None,
        *,
        zone_read: Iterable[str] | None = None,
        dns_edit: Iterable[str] | None = None,
    ) -> str:
        """A token allowed to read ``zone_read`` and edit ``dns_edit`` (None: all zones)."""
        token = token or new_token()
        self.tokens[token] = Grant(
            None if zone_read is None else frozenset(zone_read),
            None if dns_edit is None else frozenset(dns_edit),
        )
        return token

    def add_key(self, email: str, key: str | None = None) -> str:
        """A Global API Key for ``email``: it may do everything."""
        key = key or new_key()
        self.keys[(email, key)] = Grant()
        return key

    def add_record(self, fqdn: str, content: str, *, type: str = "TXT") -> Record:
        """A record put there by someone else (``content`` exactly as given)."""
        name = fqdn.rstrip(".").lower()
        zone = self._zone_of(name)
        assert zone is not None, f"{name} is in none of {self.zones}"
        record = Record(
            uuid.uuid4().hex, self.zone_ids[zone], zone, type, name, content, 120, _now()
        )
        with self._lock:
            self.records[record.id] = record
        return record

    def throttle(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with 429 Too Many Requests."""
        with self._lock:
            self._throttle = count

    def txt_values(self, fqdn: str) -> set[str]:
        """The TXT values at ``fqdn`` (unquoted), from the fake's own state."""
        name = fqdn.rstrip(".").lower()
        with self._lock:
            return {
                unquote(r.content)
                for r in self.records.values()
                if r.type == "TXT" and r.name == name
            }

    def txt_contents(self, fqdn: str) -> list[str]:
        """The ``content`` fields at ``fqdn`` exactly as stored."""
        name = fqdn.rstrip(".").lower()
        with self._lock:
            return sorted(r.content for r in self.records.values() if r.name == name)

    def requests(self, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if method is None or s.method == method]

    # --- Lifecycle ---

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    # --- The API ---

    def handle(self, seen: Seen, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        """``(status, envelope, extra headers)`` for one request."""
        try:
            with self._lock:
                if self._throttle > 0:
                    self._throttle -= 1
                    raise _Refusal(
                        429,
                        [_error(971, "Please wait and consider throttling your request speed")],
                    )
            route = self._route(seen)
            grant = self._authenticate(seen.headers)
            self._check_content_type(seen, body)
            return 200, route(seen, grant, body), {}
        except _Refusal as refusal:
            extra = {"Retry-After": self.retry_after} if refusal.status == 429 else {}
            envelope = {"success": False, "errors": refusal.errors, "messages": [], "result": None}
            return refusal.status, envelope, extra

    def _route(self, seen: Seen) -> Any:
        path = seen.path
        if not path.startswith(API_PREFIX + "/"):
            raise self._no_route(path)
        parts = path[len(API_PREFIX) + 1 :].split("/")
        table: dict[str, Any]
        if parts == ["zones"]:
            table = {"GET": self._list_zones}
        elif len(parts) == 3 and parts[0] == "zones" and parts[2] == "dns_records":
            self._zone_id(parts[1], path)
            table = {"GET": self._list_records, "POST": self._create_record}
        elif len(parts) == 4 and parts[0] == "zones" and parts[2] == "dns_records":
            self._zone_id(parts[1], path)
            if not _ID_FORMAT.match(parts[3]):
                raise self._no_route(path)
            table = {"DELETE": self._delete_record}
        else:
            raise self._no_route(path)
        if seen.method not in table:
            raise _Refusal(405, [_error(7001, f"Method {seen.method} not available for that URI.")])
        return table[seen.method]

    @staticmethod
    def _no_route(path: str) -> _Refusal:
        return _Refusal(
            400,
            [
                _error(
                    7003, f"Could not route to {path}, perhaps your object identifier is invalid?"
                ),
                _error(7000, "No route for that URI"),
            ],
        )

    def _zone_id(self, zone_id: str, path: str) -> None:
        if not _ID_FORMAT.match(zone_id):
            raise self._no_route(path)

    def _authenticate(self, headers: dict[str, str]) -> Grant:
        authorization = headers.get("authorization")
        email, key = headers.get("x-auth-email"), headers.get("x-auth-key")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme != "Bearer" or not _TOKEN_FORMAT.match(token):
                raise _Refusal(
                    400,
                    [
                        _error(
                            6003,
                            "Invalid request headers",
                            [(6111, "Invalid format for Authorization header")],
                        )
                    ],
                )
            grant = self.tokens.get(token)
            if grant is None:
                raise _Refusal(403, [_error(9109, "Invalid access token")])
            return grant
        if email is None and key is None:
            raise _Refusal(
                400, [_error(9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")]
            )
        chain = []
        if email is None or not _EMAIL_FORMAT.match(email):
            chain.append((6102, "Invalid format for X-Auth-Email header"))
        if key is None or not _KEY_FORMAT.match(key):
            chain.append((6103, "Invalid format for X-Auth-Key header"))
        if chain:
            raise _Refusal(400, [_error(6003, "Invalid request headers", chain)])
        assert email is not None and key is not None
        grant = self.keys.get((email, key))
        if grant is None:
            raise _Refusal(403, [_error(9103, "Unknown X-Auth-Key or X-Auth-Email")])
        return grant

    @staticmethod
    def _check_content_type(seen: Seen, body: bytes) -> None:
        content_type = seen.headers.get("content-type")
        if content_type is None and not body:
            return
        if (content_type or "").split(";")[0].strip().lower() != "application/json":
            raise _Refusal(
                400,
                [
                    _error(
                        6003,
                        "Invalid request headers",
                        [
                            (
                                6105,
                                "Invalid Content-Type header, valid values are "
                                "application/json,multipart/form-data",
                            )
                        ],
                    )
                ],
            )

    def _page(self, seen: Seen, items: list[dict[str, Any]]) -> dict[str, Any]:
        page = _int_param(seen, "page", 1, minimum=1)
        per_page = min(_int_param(seen, "per_page", self.per_page, minimum=1), self.per_page)
        total = len(items)
        chunk = items[(page - 1) * per_page : page * per_page]
        return {
            "success": True,
            "errors": [],
            "messages": [],
            "result": chunk,
            "result_info": {
                "page": page,
                "per_page": per_page,
                "count": len(chunk),
                "total_count": total,
                "total_pages": max(1, math.ceil(total / per_page)),
            },
        }

    def _list_zones(self, seen: Seen, grant: Grant, body: bytes) -> dict[str, Any]:
        wanted = _param(seen, "name")
        zones = [
            {"id": self.zone_ids[zone], "name": zone, "status": "active", "type": "full"}
            for zone in self.zones
            if grant.reads(zone) and (wanted is None or zone == wanted.lower())
        ]
        return self._page(seen, zones)

    def _zone_for(self, seen: Seen, grant: Grant) -> str:
        zone_id = seen.path.split("/")[4]
        zone = next((name for name, zid in self.zone_ids.items() if zid == zone_id), None)
        # DNS:Edit covers reading the records too; Zone:Read only covers GET /zones.
        if zone is None or not grant.edits(zone):
            raise _Refusal(403, [_error(10000, "Authentication error")])
        return zone

    def _list_records(self, seen: Seen, grant: Grant, body: bytes) -> dict[str, Any]:
        zone = self._zone_for(seen, grant)
        wanted_type = _param(seen, "type")
        wanted_name = _param(seen, "name")
        with self._lock:
            items = [
                r.json()
                for r in sorted(self.records.values(), key=lambda r: (r.created_on, r.id))
                if r.zone_name == zone
                and (wanted_type is None or r.type == wanted_type)
                and (wanted_name is None or r.name == wanted_name.lower())
            ]
        return self._page(seen, items)

    def _create_record(self, seen: Seen, grant: Grant, body: bytes) -> dict[str, Any]:
        zone = self._zone_for(seen, grant)
        try:
            data = json.loads(body)
        except ValueError:
            raise _Refusal(400, [_error(9207, "Request body is invalid.")]) from None
        if not isinstance(data, dict):
            raise _Refusal(400, [_error(9207, "Request body is invalid.")])
        if data.get("type") != "TXT":
            raise _Refusal(400, [_error(1004, "DNS Validation Error")])
        name = str(data.get("name") or "").rstrip(".").lower()
        content = data.get("content")
        ttl = data.get("ttl", 1)
        if not (name == zone or name.endswith("." + zone)):
            raise _Refusal(400, [_error(1004, "DNS Validation Error")])
        if not isinstance(content, str) or not content:
            raise _Refusal(400, [_error(1004, "DNS Validation Error")])
        if not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
            raise _Refusal(400, [_error(1004, "DNS Validation Error")])
        with self._lock:
            if any(
                r.name == name and r.type == "TXT" and unquote(r.content) == unquote(content)
                for r in self.records.values()
            ):
                raise _Refusal(400, [_error(81058, "An identical record already exists.")])
            record = Record(
                uuid.uuid4().hex, self.zone_ids[zone], zone, "TXT", name, content, ttl, _now()
            )
            self.records[record.id] = record
        for listener in self.on_change:
            listener("add", name, content)
        return {"success": True, "errors": [], "messages": [], "result": record.json()}

    def _delete_record(self, seen: Seen, grant: Grant, body: bytes) -> dict[str, Any]:
        zone = self._zone_for(seen, grant)
        record_id = seen.path.split("/")[6]
        with self._lock:
            record = self.records.get(record_id)
            if record is None or record.zone_name != zone:
                raise _Refusal(404, [_error(81044, "Record does not exist.")])
            del self.records[record_id]
        for listener in self.on_change:
            listener("delete", record.name, record.content)
        return {"success": True, "errors": [], "messages": [], "result": {"id": record_id}}

    def _zone_of(self, name: str) -> str | None:
        matches = [zone for zone in self.zones if name == zone or name.endswith("." + zone)]
        return max(matches, key=len) if matches else None


def _param(seen: Seen, name: str) -> str | None:
    values = seen.query.get(name)
    return values[0] if values else None


def _int_param(seen: Seen, name: str, default: int, *, minimum: int) -> int:
    values = seen.query.get(name)
    if not values:
        return default
    try:
        number = int(values[0])
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise _Refusal(400, [_error(1001, f"Invalid {name} parameter")])
    return number


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Handler(BaseHTTPRequestHandler):
    fake: CloudflareServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(
            self.command,
            split.path,
            parse_qs(split.query),
            {key.lower(): value for key, value in self.headers.items()},
        )
        status, envelope, extra = self.fake.handle(seen, body)
        seen.status = status
        self.fake.seen.append(seen)
        payload = json.dumps(envelope).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve


def iter_pages(seen: list[Seen], path_suffix: str) -> Iterator[int]:
    """The ``page`` numbers requested on paths ending with ``path_suffix``."""
    for item in seen:
        if item.method == "GET" and item.path.endswith(path_suffix):
            yield int((item.query.get("page") or ["1"])[0])
