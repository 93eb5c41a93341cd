"""moto in server mode as Route 53 and STS, with IAM access control on, for the route53 tests.

moto's ``ThreadedMotoServer`` runs in this process on 127.0.0.1 and a free port. Its
IAM-like access control (moto docs, "IAM-like Access Control"; in server mode
``POST /moto-api/reset-auth`` with the number of unauthenticated calls left, here 0)
makes it check SigV4 signatures and IAM policies, so a wrong key is refused with
``InvalidClientTokenId``, a wrong secret with ``SignatureDoesNotMatch`` and a missing
permission with ``AccessDenied``, as AWS does. The IAM users, the role and the
hosted zones are created before access control is switched on.

Two moto bugs are patched in process, both in how moto checks requests rather than
in what Route 53 does:

* moto hashes a GET request's parsed parameters as its body when it recomputes the
  signature, so every signed Route 53 GET fails with SignatureDoesNotMatch; a GET has
  an empty body (AWS SigV4: the payload hash of an empty body);
* moto renders those access-control errors in the query protocol's envelope
  (``<ErrorResponse><Errors><Error>``); Route 53 answers ``<ErrorResponse><Error>``
  (Route 53 API reference, "Errors"), which is the only form botocore's REST-XML parser
  reads, and which the query protocol's parser reads too.

:class:`FaultProxy` sits in front of the server to inject what moto never does:
``Throttling`` answers and changes that stay ``PENDING`` for a while.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import requests

ACCOUNT = "123456789012"
REGION = "us-east-1"
#: The role the role-assumption tests assume.
ROLE_NAME = "certctl-dns"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"

#: The actions of the least-privilege policy in docs/providers/route53.md. moto checks
#: Route 53 calls against the resource "*" only, so the policy here cannot scope them to
#: ``hostedzone/*`` and ``change/*`` as the documented one does: it proves the action list.
DNS01_ACTIONS = [
    "route53:GetChange",
    "route53:ChangeResourceRecordSets",
    "route53:ListResourceRecordSets",
    "route53:ListHostedZonesByName",
]
DNS01_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": DNS01_ACTIONS, "Resource": "*"}],
}
ALL_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
READ_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["route53:ListHostedZonesByName", "route53:ListResourceRecordSets"],
            "Resource": "*",
        }
    ],
}
ASSUME_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}],
}


@dataclass(frozen=True)
class AccessKey:
    """An IAM user's access key pair."""

    id: str
    secret: str


@dataclass
class MotoRoute53:
    """The moto server, its IAM users and its hosted zones.

    Attributes:
        url: the server's endpoint (``http://127.0.0.1:PORT``).
        keys: access keys by user: ``admin`` (everything), ``dns`` (the documented
            least-privilege policy), ``readonly`` (no ChangeResourceRecordSets),
            ``assumer`` (only sts:AssumeRole on the role).
        zones: hosted zone ids by name: ``example.test.``, ``sub.example.test.`` (public),
            ``private.test.`` (private only), and a private ``example.test.`` beside the
            public one.
    """

    url: str = ""
    keys: dict[str, AccessKey] = field(default_factory=dict)
    zones: dict[str, str] = field(default_factory=dict)
    private_zone_id: str = ""
    _server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        _patch_moto()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        bootstrap = AccessKey("bootstrap", "bootstrap")
        iam = self.client("iam", bootstrap)
        for user, policy in (
            ("admin", ALL_POLICY),
            ("dns", DNS01_POLICY),
            ("readonly", READ_ONLY_POLICY),
            ("assumer", ASSUME_POLICY),
        ):
            iam.create_user(UserName=user)
            iam.put_user_policy(
                UserName=user, PolicyName="policy", PolicyDocument=json.dumps(policy)
            )
            key = iam.create_access_key(UserName=user)["AccessKey"]
            self.keys[user] = AccessKey(key["AccessKeyId"], key["SecretAccessKey"])
        # moto checks the role's trust policy too: only "assumer" may assume it.
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/assumer"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName=ROLE_NAME, PolicyName="dns01", PolicyDocument=json.dumps(DNS01_POLICY)
        )
        route53 = self.client("route53", bootstrap)
        for name in ("example.test.", "sub.example.test."):
            zone = route53.create_hosted_zone(Name=name, CallerReference=name)
            self.zones[name] = zone["HostedZone"]["Id"].removeprefix("/hostedzone/")
        for name in ("example.test.", "private.test."):
            zone = route53.create_hosted_zone(
                Name=name,
                CallerReference=f"private-{name}",
                HostedZoneConfig={"PrivateZone": True, "Comment": "private"},
                VPC={"VPCRegion": REGION, "VPCId": "vpc-12345678"},
            )
            if name == "example.test.":
                self.private_zone_id = zone["HostedZone"]["Id"].removeprefix("/hostedzone/")
        # From now on every call is authenticated and authorized.
        requests.post(f"{self.url}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()

    def stop(self) -> None:
        if self._server is not None:
            requests.post(f"{self.url}/moto-api/reset-auth", data=b"inf", timeout=10)
            self._server.stop()
            self._server = None

    def client(self, service: str, key: AccessKey | None = None, url: str = "") -> Any:
        key = key or self.keys["admin"]
        return boto3.session.Session(
            aws_access_key_id=key.id, aws_secret_access_key=key.secret, region_name=REGION
        ).client(service, endpoint_url=url or self.url)

    def txt_values(self, fqdn: str, zone_id: str = "") -> set[str]:
        """The TXT values at ``fqdn``, read with the admin key."""
        from certctl.acme.solvers.route53 import normalize_name, parse_txt_value

        zone_id = zone_id or self.zone_for(fqdn)
        response = self.client("route53").list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=fqdn, StartRecordType="TXT", MaxItems="1"
        )
        for record in response["ResourceRecordSets"]:
            if record["Type"] == "TXT" and normalize_name(record["Name"]) == normalize_name(fqdn):
                return {parse_txt_value(item["Value"]) for item in record["ResourceRecords"]}
        return set()

    def records(self, zone_id: str) -> Iterator[dict[str, Any]]:
        """Every record set in a zone (the bridge to BIND copies them)."""
        yield from self.client("route53").list_resource_record_sets(HostedZoneId=zone_id)[
            "ResourceRecordSets"
        ]

    def zone_for(self, fqdn: str) -> str:
        """The id of the longest public zone holding ``fqdn``."""
        name = fqdn.lower().rstrip(".") + "."
        matches = [zone for zone in self.zones if name == zone or name.endswith("." + zone)]
        return self.zones[max(matches, key=len)]


def _patch_moto() -> None:
    """Fix the two moto access-control bugs named in the module docstring (idempotent)."""
    from moto.core import exceptions
    from moto.iam import access_control

    base = access_control.IAMRequestBase
    if getattr(base, "_certctl_patched", False):
        return
    original_request = base._create_aws_request

    def create_aws_request(self: Any) -> Any:
        request = original_request(self)
        if self._method in ("GET", "HEAD", "DELETE") and not self._body:
            request.data = b""
        return request

    base._create_aws_request = create_aws_request
    base._certctl_patched = True

    for name in ("SignatureDoesNotMatchError", "InvalidClientTokenIdError", "AccessDeniedError"):
        error_class = getattr(exceptions, name)
        original_init = error_class.__init__

        def init(self: Any, *args: Any, _original: Any = original_init, **kwargs: Any) -> None:
            from xmltodict import unparse

            _original(self, *args, **kwargs)
            error = {"Type": "Sender", "Code": self.error_type, "Message": self.message}
            self.description = unparse({"ErrorResponse": {"Error": error}}, full_document=True)

        error_class.__init__ = init


_THROTTLING_BODY = (
    '<?xml version="1.0"?>\n'
    '<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
    "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)

#: Route 53 operations by method and path (Route 53 API reference, 2013-04-01).
_OPERATIONS = (
    ("POST", re.compile(r"^/2013-04-01/hostedzone/[^/]+/rrset/?$"), "ChangeResourceRecordSets"),
    ("GET", re.compile(r"^/2013-04-01/hostedzone/[^/]+/rrset"), "ListResourceRecordSets"),
    ("GET", re.compile(r"^/2013-04-01/hostedzonesbyname"), "ListHostedZonesByName"),
    ("GET", re.compile(r"^/2013-04-01/change/"), "GetChange"),
)


def operation_of(method: str, path: str) -> str:
    for want, pattern, name in _OPERATIONS:
        if method == want and pattern.match(path):
            return name
    return f"{method} {path.split('?')[0]}"


class FaultProxy:
    """A forwarding proxy in front of moto that can answer Throttling or report PENDING.

    Attributes:
        calls: the Route 53 operations seen, in order (``ChangeResourceRecordSets``...).
        throttle: operation -> how many more calls to answer with HTTP 400 Throttling.
        pending: how many more GetChange answers to turn from INSYNC into PENDING.
        delay: operation -> seconds to wait before forwarding it (widens races).
        on_change: called after each successful ChangeResourceRecordSets, before the
            answer goes back (the end-to-end test copies moto's records into BIND there).
    """

    def __init__(self, upstream: str, on_change: Callable[[], None] | None = None) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.on_change = on_change
        self.calls: list[str] = []
        self.throttle: dict[str, int] = {}
        self.pending = 0
        self.delay: dict[str, float] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = operation_of(self.command, self.path)
                with proxy._lock:
                    proxy.calls.append(operation)
                    throttled = proxy.throttle.get(operation, 0) > 0
                    if throttled:
                        proxy.throttle[operation] -= 1
                if operation in proxy.delay:
                    time.sleep(proxy.delay[operation])
                if throttled:
                    self._answer(400, {"Content-Type": "text/xml"}, _THROTTLING_BODY.encode())
                    return
                connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {key: value for key, value in self.headers.items()}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if operation == "GetChange" and b"INSYNC" in data:
                    with proxy._lock:
                        if proxy.pending > 0:
                            proxy.pending -= 1
                            data = data.replace(b"INSYNC", b"PENDING")
                answer_headers = {
                    key: value
                    for key, value in response.getheaders()
                    if key.lower() not in ("content-length", "transfer-encoding", "connection")
                }
                connection.close()
                changed = operation == "ChangeResourceRecordSets" and response.status == 200
                if changed and proxy.on_change is not None:
                    proxy.on_change()
                self._answer(response.status, answer_headers, data)

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
