"""A strict local fake of acme-dns's HTTP API, for integration tests.

It follows the acme-dns README (https://github.com/joohoi/acme-dns#api, sections
"Register endpoint" and "Update endpoint", and "Testing It Out": "The txt field must be
exactly 43 characters long, otherwise acme-dns will reject it"), checked against the
server's own handlers in that repository (``auth.go``, ``api.go``, ``validation.go``,
``db.go``):

* ``POST /update`` with the headers ``X-Api-User`` (the account's UUID) and ``X-Api-Key``
  (its 40-character password) and a JSON body ``{"subdomain": ..., "txt": ...}``.
  An unknown user, a wrong key, a key that is not 40 characters, or a subdomain that is not
  the account's own is 401 ``{"error": "forbidden"}`` (``Auth`` in auth.go, which checks
  the subdomain against the account before anything else). A ``txt`` that is not exactly
  43 characters of ``[A-Za-z0-9_-]`` is 400 ``{"error": "bad_txt"}``; an account whose
  subdomain is not a DNS label is 400 ``{"error": "bad_subdomain"}``. Success is 200
  ``{"txt": "<value>"}``.
* Each subdomain holds two TXT values; an update replaces the older one (``Update`` in
  db.go sets the row with the oldest ``LastUpdate``), so the two most recent values are
  served. There is no delete.
* ``POST /register`` answers 201 with a new account (``username``, ``password``,
  ``fulldomain``, ``subdomain``, ``allowfrom``); ``GET /health`` answers 200.
* Other paths are 404 and other methods on these paths 405, as httprouter answers.

Simplified on purpose: ``allowfrom`` CIDR lists are not enforced (every request comes
from 127.0.0.1), and there is no DNS side: :meth:`AcmeDNSServer.txt_values` reads what
the DNS server would serve, and ``on_change`` lets a test copy it into a real one.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.integration.servers.loopback import LoopbackHTTPServer

_TXT = re.compile(r"^[A-Za-z0-9_-]{43}$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{40}$")


@dataclass
class Registration:
    """One account, with the two TXT slots of its subdomain (oldest first)."""

    username: str
    password: str
    subdomain: str
    fulldomain: str
    values: list[str] = field(default_factory=lambda: ["", ""])

    def as_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "password": self.password,
            "fulldomain": self.fulldomain,
            "subdomain": self.subdomain,
            "allowfrom": [],
        }


@dataclass
class Call:
    """One request the fake answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class AcmeDNSServer(LoopbackHTTPServer):
    """The fake on 127.0.0.1 and a free port, serving names below ``domain``.

    Attributes:
        domain: the zone acme-dns serves (``auth.example.org``).
        accounts: registrations by username.
        calls: every request answered, in order.
        on_change: called as ``(fulldomain, old_value, new_value)`` after an update,
            before the answer is sent (``old_value`` empty when the slot was empty).
    """

    domain: str = "auth.example.org"
    accounts: dict[str, Registration] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    on_change: Callable[[str, str, str], None] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def register(self, subdomain: str | None = None) -> Registration:
        """A new account, as ``POST /register`` makes one."""
        alphabet = string.ascii_letters + string.digits + "-_"
        sub = subdomain or str(uuid.uuid4())
        account = Registration(
            username=str(uuid.uuid4()),
            password="".join(secrets.choice(alphabet) for _ in range(40)),
            subdomain=sub,
            fulldomain=f"{sub}.{self.domain}",
        )
        with self._lock:
            self.accounts[account.username] = account
        return account

    def txt_values(self, fulldomain: str) -> set[str]:
        """The TXT values acme-dns serves at ``fulldomain`` (absolute or not)."""
        name = fulldomain.rstrip(".").lower()
        with self._lock:
            return {
                value
                for account in self.accounts.values()
                if account.fulldomain.lower() == name
                for value in account.values
                if value
            }

    @property
    def url(self) -> str:
        return self.address

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        routes = {"/update": "POST", "/register": "POST", "/health": "GET"}
        if path not in routes:
            return 404, None
        if method != routes[path]:
            return 405, None
        if path == "/health":
            return 200, None
        if path == "/register":
            return 201, self.register().as_json()
        return self._update(headers, body)

    def _update(self, headers: Any, body: bytes) -> tuple[int, Any]:
        forbidden = (401, {"error": "forbidden"})
        username, key = headers.get("X-Api-User", ""), headers.get("X-Api-Key", "")
        with self._lock:
            account = self.accounts.get(username)
            if account is None or not _KEY.match(key) or key != account.password:
                return forbidden
            try:
                request = json.loads(body)
            except ValueError:
                request = {}
            if not isinstance(request, dict) or request.get("subdomain") != account.subdomain:
                return forbidden
            if not _LABEL.match(account.subdomain):
                return 400, {"error": "bad_subdomain"}
            txt = request.get("txt")
            if not isinstance(txt, str) or not _TXT.match(txt):
                return 400, {"error": "bad_txt"}
            old = account.values.pop(0)
            account.values.append(txt)
            if self.on_change is not None:
                self.on_change(account.fulldomain, old, txt)
        return 200, {"txt": txt}


class _Handler(BaseHTTPRequestHandler):
    fake: AcmeDNSServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.fake.handle(self.command, self.path, self.headers, body)
        try:
            decoded = json.loads(body) if body else None
        except ValueError:
            decoded = body
        with self.fake._lock:
            self.fake.calls.append(
                Call(self.command, self.path, dict(self.headers.items()), decoded, status)
            )
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
