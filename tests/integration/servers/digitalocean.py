"""A strict local fake of DigitalOcean's Domain Records API (API v2), for integration tests.

It follows the public API reference, https://docs.digitalocean.com/reference/api/api-reference/
sections "Domain Records" (operations ``domains_list_records``, ``domains_create_record``,
``domains_delete_record``), "Links & Pagination", "Rate Limit" and "Authentication", as
published in DigitalOcean's OpenAPI description (github.com/digitalocean/openapi,
``specification/resources/domains/`` and ``specification/shared/responses/``):

* ``GET /v2/domains/{domain}/records`` with the optional ``type``, ``name`` (a fully
  qualified record name, ``sub.example.com``), ``page`` and ``per_page`` (1 to 200,
  default 20) query parameters answers 200 ``{"domain_records": [...], "links": {...},
  "meta": {"total": N}}``; ``links.pages`` holds ``next``/``last`` (and ``first``/``prev``
  after page 1) as absolute URLs, and is absent when everything fits in one page.
  Record ``name`` fields are relative to the domain (``@`` at the apex).
* ``POST /v2/domains/{domain}/records`` with a JSON body (``Content-Type:
  application/json``) ``{"type": "TXT", "name": <relative name or "@">, "data": ...,
  "ttl": ...}`` answers 201 ``{"domain_record": {...}}``. A name is relative: sending
  ``a.example.com`` for the domain ``example.com`` makes ``a.example.com.example.com``,
  as the real service does. Only TXT records are served here.
* ``DELETE /v2/domains/{domain}/records/{id}`` answers 204 with no body.
* Every refusal is the documented error object ``{"id": ..., "message": ...}``: 401
  ``unauthorized`` without ``Authorization: Bearer <a known token>``, 403 ``forbidden``
  when the token lacks the call's scope (``domain:read`` to list, ``domain:create`` or
  ``domain:update`` to create, ``domain:delete`` or ``domain:update`` to delete), 404
  ``not_found`` for an unknown domain, record or path, 422 ``unprocessable_entity`` for a
  body the API would not take, 429 ``too_many_requests`` (with ``retry-after``) when a test
  asks for it through :meth:`DigitalOceanServer.throttle`. Every answer carries the
  ``ratelimit-limit``, ``ratelimit-remaining`` and ``ratelimit-reset`` headers.

Simplified on purpose: no other record types or endpoints, no real rate counting (429s
come only from :meth:`throttle`), and unknown query parameters are refused (400
``bad_request``) so that a client cannot rely on a parameter the API does not have.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.integration.servers.loopback import LoopbackHTTPServer

#: Scopes of a custom-scoped token that can do everything the provider needs.
ALL_SCOPES = frozenset({"domain:read", "domain:create", "domain:delete"})

#: What each operation needs: any one of these scopes (OpenAPI ``security`` blocks).
_NEEDS = {
    "GET": ("domain:read",),
    "POST": ("domain:create", "domain:update"),
    "DELETE": ("domain:delete", "domain:update"),
}

_QUERY = {"type", "name", "page", "per_page"}
_NOT_FOUND = "The resource you were accessing could not be found."


@dataclass
class Call:
    """One request the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any = None


@dataclass
class DigitalOceanServer(LoopbackHTTPServer):
    """The fake, on 127.0.0.1 and a free port; use it as a context manager.

    Attributes:
        domains: the domains it serves, each a list of TXT records (API-shaped dicts).
        tokens: the tokens it accepts, each with its scopes.
        calls: every request answered, in order.
    """

    domains: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    #: Called as ``(action, fqdn, data)`` ("add" or "delete") after each record change made
    #: through the API, before the answer is sent: a test bridges the records to a real DNS
    #: server with it, so that a CA can see them.
    on_change: Callable[[str, str, str], None] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(28448429)
        self._throttled: list[int] = []

    # --- set-up, from tests ---

    def add_domain(self, name: str) -> None:
        with self._lock:
            self.domains.setdefault(name.rstrip(".").lower(), [])

    def add_token(self, token: str, scopes: frozenset[str] = ALL_SCOPES) -> None:
        with self._lock:
            self.tokens[token] = scopes

    def add_txt(self, domain: str, name: str, data: str, ttl: int = 1800) -> dict[str, Any]:
        """A TXT record made by someone else (``name`` relative, as the API stores it)."""
        with self._lock:
            return self._store(domain.rstrip(".").lower(), name, data, ttl)

    def throttle(self, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` requests with 429, as the burst limit does."""
        with self._lock:
            self._throttled.extend([retry_after] * times)

    def txt_values(self, fqdn: str) -> set[str]:
        """The TXT values at ``fqdn`` (absolute or not), across the domains served."""
        wanted = fqdn.rstrip(".").lower()
        with self._lock:
            return {
                record["data"]
                for domain, records in self.domains.items()
                for record in records
                if _absolute(record["name"], domain) == wanted
            }

    @property
    def url(self) -> str:
        """The API base URL (what ``CERTCTL_DIGITALOCEAN_API_URL`` takes), ending in /v2."""
        return f"{self.address}/v2"

    # --- lifecycle ---

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    # --- the API, called by the handler under the lock ---

    def _store(self, domain: str, name: str, data: str, ttl: int) -> dict[str, Any]:
        record = {
            "id": next(self._ids),
            "type": "TXT",
            "name": name,
            "data": data,
            "priority": None,
            "port": None,
            "ttl": ttl,
            "weight": None,
            "flags": None,
            "tag": None,
        }
        self.domains[domain].append(record)
        return record

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        """(status, extra headers, JSON body or None) for one request."""
        with self._lock:
            if self._throttled:
                retry_after = self._throttled.pop(0)
                return (
                    429,
                    {"retry-after": str(retry_after), "ratelimit-remaining": "0"},
                    _error("too_many_requests", "API rate limit exceeded."),
                )
            parts = path.split("/")
            # "", "v2", "domains", domain, "records"[, id]
            if len(parts) not in (5, 6) or parts[:3] != ["", "v2", "domains"]:
                return 404, {}, _error("not_found", _NOT_FOUND)
            if parts[4] != "records" or (method, len(parts)) not in {
                ("GET", 5),
                ("POST", 5),
                ("DELETE", 6),
            }:
                return 404, {}, _error("not_found", _NOT_FOUND)
            authorization = headers.get("Authorization", "")
            scheme, _, token = authorization.partition(" ")
            if scheme != "Bearer" or token not in self.tokens:
                return 401, {}, _error("unauthorized", "Unable to authenticate you")
            if not any(scope in self.tokens[token] for scope in _NEEDS[method]):
                return (
                    403,
                    {},
                    _error("forbidden", "You do not have permission to perform this action."),
                )
            domain = parts[3].lower()
            if domain not in self.domains:
                return 404, {}, _error("not_found", _NOT_FOUND)
            if method == "GET":
                return self._list(domain, query)
            if method == "POST":
                return self._create(domain, headers, body)
            return self._delete(domain, parts[5])

    def _list(self, domain: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        unknown = set(query) - _QUERY
        if unknown or any(len(values) != 1 for values in query.values()):
            return (
                400,
                {},
                _error("bad_request", f"unknown or repeated query parameters {sorted(query)}"),
            )
        params = {key: values[0] for key, values in query.items()}
        try:
            page = int(params.get("page", "1"))
            per_page = int(params.get("per_page", "20"))
        except ValueError:
            return 400, {}, _error("bad_request", "page and per_page must be integers")
        if page < 1 or not 1 <= per_page <= 200:
            return 400, {}, _error("bad_request", "page must be >= 1 and per_page 1 to 200")
        records = self.domains[domain]
        if "type" in params:
            records = [record for record in records if record["type"] == params["type"]]
        if "name" in params:
            # "name must be a fully qualified record name" (domains_list_records).
            wanted = params["name"].lower()
            records = [r for r in records if _absolute(r["name"], domain) == wanted]
        total = len(records)
        chunk = records[(page - 1) * per_page : page * per_page]
        last = max(1, -(-total // per_page))
        pages: dict[str, str] = {}
        base = f"{self.url}/domains/{domain}/records"

        def link(number: int) -> str:
            return f"{base}?{urlencode({**params, 'page': number})}"

        if page > 1:
            pages["first"] = link(1)
            pages["prev"] = link(page - 1)
        if page < last:
            pages["last"] = link(last)
            pages["next"] = link(page + 1)
        links = {"pages": pages} if pages else {}
        body = {
            "domain_records": [dict(r) for r in chunk],
            "links": links,
            "meta": {"total": total},
        }
        return 200, {}, body

    def _create(self, domain: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        if headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return 400, {}, _error("bad_request", "Content-Type must be application/json")
        try:
            request = json.loads(body)
        except ValueError:
            return 400, {}, _error("bad_request", "unable to parse the request body as JSON")
        if not isinstance(request, dict):
            return 422, {}, _error("unprocessable_entity", "the body must be a JSON object")
        name, data, ttl = request.get("name"), request.get("data"), request.get("ttl", 1800)
        unexpected = set(request) - {
            "type", "name", "data", "ttl", "priority", "port", "weight", "flags", "tag",
        }  # fmt: skip
        if unexpected:
            return 422, {}, _error("unprocessable_entity", f"unknown fields {sorted(unexpected)}")
        if request.get("type") != "TXT":
            return 422, {}, _error("unprocessable_entity", "this fake serves TXT records only")
        if not isinstance(name, str) or not name or name.endswith("."):
            return 422, {}, _error("unprocessable_entity", "Name is invalid")
        if not isinstance(data, str) or not data:
            return 422, {}, _error("unprocessable_entity", "Data needs to be a string")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 30:
            return 422, {}, _error("unprocessable_entity", "TTL must be at least 30 seconds")
        record = self._store(domain, name, data, ttl)
        if self.on_change is not None:
            self.on_change("add", _absolute(name, domain), data)
        return 201, {}, {"domain_record": dict(record)}

    def _delete(self, domain: str, record_id: str) -> tuple[int, dict[str, str], Any]:
        records = self.domains[domain]
        for index, record in enumerate(records):
            if str(record["id"]) == record_id:
                del records[index]
                if self.on_change is not None:
                    self.on_change("delete", _absolute(record["name"], domain), record["data"])
                return 204, {}, None
        return 404, {}, _error("not_found", _NOT_FOUND)


def _absolute(name: str, domain: str) -> str:
    return domain if name == "@" else f"{name}.{domain}".lower()


def _error(identifier: str, message: str) -> dict[str, str]:
    return {"id": identifier, "message": message}


class _Handler(BaseHTTPRequestHandler):
    fake: DigitalOceanServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(split.query, keep_blank_values=True)
        status, extra, payload = self.fake.handle(
            self.command, split.path, query, self.headers, body
        )
        with self.fake._lock:
            self.fake.calls.append(
                Call(
                    self.command,
                    split.path,
                    {key: values[-1] for key, values in query.items()},
                    status,
                    json.loads(body) if body and self.command == "POST" and status == 201 else None,
                )
            )
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        headers = {
            "ratelimit-limit": "5000",
            "ratelimit-remaining": "4999",
            "ratelimit-reset": str(int(time.time()) + 3600),
            **extra,
        }
        for key, value in headers.items():
            self.send_header(key, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve
    do_PUT = _serve
    do_PATCH = _serve
