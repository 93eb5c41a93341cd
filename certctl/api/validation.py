"""Value checks and cross-field rules: the semantic half of cert-manager's webhook.

Value checks (``Check``) take one value and return a message or None. Rules
(``Rule``) take a whole object and report into ``Problems``. Messages follow
cert-manager's and Kubernetes' wording so that a search for the text finds the
upstream explanation. Rules must tolerate fields of the wrong type: the schema
has already reported those, so a rule just treats them as unset.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import ipaddress
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from certctl.api.duration import DurationError, format_go_duration, parse_go_duration
from certctl.api.models import DEFAULT_DURATION
from certctl.api.schema import Path, Problems, Rule, suggest

# --- Kubernetes names, labels and annotations (k8s.io/apimachinery validation) ---

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = _QUALIFIED_NAME
_TOTAL_ANNOTATION_BYTES = 256 * 1024

_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_QUALIFIED_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def dns1123_subdomain(value: str) -> str | None:
    """Kubernetes' object-name rule (``IsDNS1123Subdomain``): at most 253 characters."""
    if len(value) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        return _SUBDOMAIN_MESSAGE
    return None


def dns1123_label(value: str) -> str | None:
    """Kubernetes' namespace-name rule (``IsDNS1123Label``): at most 63 characters."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1123_LABEL.fullmatch(value):
        return _LABEL_MESSAGE
    return None


def qualified_name(value: str) -> str | None:
    """A label or annotation key: ``[prefix/]name`` (``IsQualifiedName``)."""
    prefix, slash, name = value.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return f"prefix part {_SUBDOMAIN_MESSAGE}"
        if "/" in prefix:
            return "a qualified name may contain at most one '/'"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.fullmatch(name):
        return _QUALIFIED_MESSAGE
    return None


def label_value(value: str) -> str | None:
    """A label value: empty, or up to 63 name characters (``IsValidLabelValue``)."""
    if not value:
        return None
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.fullmatch(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character"
        )
    return None


def check_labels(labels: Mapping[str, Any], path: Path, out: Problems) -> None:
    """Rule for a labels map: valid keys and values."""
    for key, value in labels.items():
        if not isinstance(key, str):
            continue
        message = qualified_name(key)
        if message:
            out.invalid((*path, key), key, message)
        if isinstance(value, str):
            message = label_value(value)
            if message:
                out.invalid((*path, key), value, message)


def check_annotations(annotations: Mapping[str, Any], path: Path, out: Problems) -> None:
    """Rule for an annotations map: valid keys and a 256 KiB total size."""
    total = 0
    for key, value in annotations.items():
        if not isinstance(key, str):
            continue
        message = qualified_name(key.lower())
        if message:
            out.invalid((*path, key), key, message)
        total += len(key) + (len(value) if isinstance(value, str) else 0)
    if total > _TOTAL_ANNOTATION_BYTES:
        out.add(path, f"Too long: must have at most {_TOTAL_ANNOTATION_BYTES} bytes")


# --- Values inside a Certificate ---


def ip_address(value: str) -> str | None:
    """Go's ``net.ParseIP``: no zones, no prefixes."""
    if "%" in value:
        return "invalid IP address"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "invalid IP address"
    return None


def cidr(value: str) -> str | None:
    """Go's ``net.ParseCIDR``: an address and a prefix length; host bits may be set."""
    if "/" not in value or "%" in value:
        return "must be a CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32"
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "must be a CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32"
    return None


# Characters that show nothing or move the cursor: C0/C1 controls, format characters
# (byte-order mark, bidi overrides, zero-width space) and the line/paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_CONTROL_NAMES = {
    "\x00": "NUL",
    "\x07": "BEL",
    "\x08": "BACKSPACE",
    "\t": "TAB",
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESC",
    "\x7f": "DEL",
}


def _describe_character(char: str) -> str:
    name = unicodedata.name(char, "")
    if char == "\ufeff":
        name = "ZERO WIDTH NO-BREAK SPACE, a byte-order mark"
    elif not name:
        name = _CONTROL_NAMES.get(char, "a control character")
    return f"U+{ord(char):04X} ({name})" if name else f"U+{ord(char):04X}"


def control_character(value: str) -> str | None:
    """Describe the first invisible or control character of ``value``, if any."""
    for index, char in enumerate(value):
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            return f"the invisible character {_describe_character(char)} at position {index + 1}"
    return None


def _a_label(domain: str) -> str | None:
    """The A-label (punycode) form of an internationalised domain, or None if it has none."""
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return encoded if encoded and encoded != domain else None


def dns_name(value: str) -> str | None:
    """A ``dnsNames`` entry: ASCII, because a SAN dNSName is an IA5String.

    cert-manager's webhook does not look at DNS names; Go's x509 then fails to
    build the request for a name that is not ASCII, so certctl says so up front.
    """
    if value.isascii():
        return None
    invisible = control_character(value)
    if invisible:
        return f"contains {invisible}; remove it"
    a_label = _a_label(value)
    if a_label:
        return (
            "must be ASCII: write an internationalised name in its A-label (punycode) "
            f'form, "{a_label}"'
        )
    return "must be ASCII, and this is not a valid internationalised domain name (IDNA)"


def email_san(value: str) -> str | None:
    """An ``emailAddresses`` entry: a bare address (``email_address``) that is ASCII.

    A SAN rfc822Name is an IA5String: an internationalised domain must be written
    in its A-label form, and a non-ASCII local part cannot be encoded at all.
    """
    return email_address(value) or ascii_email(value)


def ascii_email(value: str) -> str | None:
    """An address, ``@domain`` or ``.domain`` (as name constraints take them) in ASCII."""
    if value.isascii():
        return None
    invisible = control_character(value)
    if invisible:
        return f"contains {invisible}; remove it"
    local, at, domain = value.rpartition("@")
    if not local.isascii():
        return (
            "must be ASCII: a certificate's email address (rfc822Name) cannot hold a "
            "non-ASCII local part"
        )
    a_label = _a_label(domain.lstrip("."))
    if a_label:
        dot = "." if domain.startswith(".") else ""
        return (
            "must be ASCII: write the internationalised domain in its A-label "
            f'(punycode) form, "{local}{at}{dot}{a_label}"'
        )
    return "must be ASCII, and this is not a valid internationalised domain name (IDNA)"


def uri_san(value: str) -> str | None:
    """A ``uris`` entry: ASCII, because a SAN uniformResourceIdentifier is an IA5String."""
    if value.isascii():
        return None
    invisible = control_character(value)
    if invisible:
        return f"contains {invisible}; remove it"
    parts = urlsplit(value)
    host = parts.hostname or ""
    rest = value.replace(host, "", 1) if host else value
    a_label = _a_label(host) if host else None
    if a_label and rest.isascii():
        return (
            "must be ASCII: write the internationalised host in its A-label (punycode) "
            f'form, "{value.replace(host, a_label, 1)}"'
        )
    return "must be ASCII: percent-encode other characters (RFC 3986)"


def country(value: str) -> str | None:
    """A ``subject.countries`` entry: not empty (certctl; Go would write an empty C)."""
    if value:
        return None
    return 'must not be empty: a country is a two-letter ISO 3166 code such as "DE"'


# RFC 5322 addr-spec: a dot-atom or quoted local part, and a dot-atom or literal domain.
# Non-ASCII is allowed in atoms as Go's net/mail does (RFC 6532).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_ADDR_SPEC = (
    rf'(?:{_ATOM}(?:\.{_ATOM})*|"(?:[^"\\\r\n]|\\.)*")@(?:{_ATOM}(?:\.{_ATOM})*|\[[^\[\]\\]*\])'
)


@functools.cache
def _addr_spec() -> re.Pattern[str]:
    # Compiling the Unicode class costs about 15 ms: only manifests with emails pay it.
    return re.compile(_ADDR_SPEC)


def email_address(value: str) -> str | None:
    """A bare RFC 5322 address; ``Name <a@b>`` is rejected as cert-manager does."""
    if _addr_spec().fullmatch(value):
        return None
    if "<" in value and _addr_spec().search(value):
        return (
            "invalid email address: make sure the supplied value only contains the "
            "email address itself"
        )
    if "@" not in value:
        return "invalid email address: mail: missing '@' or angle-addr"
    return "invalid email address: mail: no angle-addr"


_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


def object_identifier(value: str) -> str | None:
    """A dotted-decimal OID such as ``1.3.6.1.4.1.311.20.2.3``."""
    return None if _OID.fullmatch(value) else "invalid oid syntax"


# cert-manager's attributeTypeNames (pkg/util/pki): names are case-sensitive; any other
# key must be a dotted OID.
_RDN_KEYS = frozenset({"C", "O", "OU", "CN", "SERIALNUMBER", "L", "ST", "STREET", "DC", "UID"})


def parse_literal_subject(subject: str) -> list[list[tuple[str, str]]]:
    """Split an RFC 4514 DN into RDNs of (type, value) pairs, in written order.

    Attribute types are kept as written, known or not: cert-manager parses the
    whole DN first and reports unknown types afterwards (see
    ``unknown_subject_keys``), so a ``CN=`` next to an unknown type still counts.

    Raises:
        ValueError: the string is not a DN.
    """
    if "=#" in subject:
        raise ValueError(
            f'unsupported distinguished name (DN) "{subject}": notation does not support '
            'x509.subject identities containing "=#"'
        )
    rdns: list[list[tuple[str, str]]] = []
    for rdn_text in _split_unescaped(subject, ","):
        rdn: list[tuple[str, str]] = []
        for pair in _split_unescaped(rdn_text, "+"):
            key, equals, value = pair.partition("=")
            key = key.strip()
            if not equals or not key:
                raise ValueError(f"DN ended with incomplete type, value pair: {pair.strip()!r}")
            rdn.append((key, _unescape(value.strip())))
        rdns.append(rdn)
    return rdns


def unknown_subject_keys(rdns: Sequence[Sequence[tuple[str, str]]]) -> list[tuple[str, str]]:
    """The (type, value) pairs whose type cert-manager does not know."""
    return [
        (key, value)
        for rdn in rdns
        for key, value in rdn
        if key not in _RDN_KEYS and not _OID.fullmatch(key)
    ]


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise ValueError("got corrupted escaped character")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\([0-9A-Fa-f]{2}|.)", lambda m: _unescape_one(m.group(1)), value)


def _unescape_one(token: str) -> str:
    if len(token) == 2:
        return chr(int(token, 16))
    return token


KEY_USAGES = (
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
)
EXT_KEY_USAGES = (
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
)
ALL_USAGES = KEY_USAGES + EXT_KEY_USAGES
_USAGE_SET = frozenset(ALL_USAGES)


def key_usage(value: str) -> str | None:
    """One ``usages`` entry: a name from cert-manager's KeyUsage list."""
    if value in _USAGE_SET:
        return None
    close = suggest(value, ALL_USAGES)
    return f"unknown keyusage (did you mean '{close}'?)" if close else "unknown keyusage"


_WINDOW_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(s|m|h))+")


def window_duration(value: str) -> str | None:
    """``renewal.windows[].windowDuration``: the CRD pattern, then a Go duration."""
    if not _WINDOW_DURATION.fullmatch(value):
        return 'should match "^([0-9]+(\\.[0-9]+)?(s|m|h))+$"'
    return None


def timezone(value: str) -> str | None:
    """An IANA time zone name (Go's ``time.LoadLocation``)."""
    if value in ("UTC", "Local"):
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return "invalid value for timezone. timezone must be IANA compliant"
    return None


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names allowed instead of numbers) for each of the five fields.
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day of week", 0, 6, {d: i for i, d in enumerate(_WEEKDAYS)}),
)
_CRON_DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)


_CRON_MESSAGE = (
    "invalid cron syntax: failed to parse cron spec '{spec}': {error}. cron needs to follow: "
    "cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow"
)


def check_renewal_window(window: Mapping[str, Any], path: Path, out: Problems) -> None:
    """``renewal.windows[].cron``, parsed as cert-manager's CronParse parses it.

    With ``timezone`` set, cert-manager parses ``CRON_TZ=<timezone> <cron>``, so a
    ``CRON_TZ=`` prefix of the cron's own only counts when ``timezone`` is unset.
    """
    cron = window.get("cron")
    if not isinstance(cron, str) or not cron:
        return  # the schema reported it
    zone = window.get("timezone")
    if isinstance(zone, str) and zone and timezone(zone) is not None:
        return  # the schema blamed the time zone; the cron is not the problem
    spec = f"CRON_TZ={zone} {cron}" if isinstance(zone, str) and zone else cron
    error = _cron_error(spec)
    if error:
        out.invalid((*path, "cron"), cron, _CRON_MESSAGE.format(spec=cron, error=error))


def _cron_error(spec: str) -> str | None:
    """robfig/cron's standard parser (cert-manager's internal/cron), as an error or None."""
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        prefix, space, rest = spec.partition(" ")
        if not space:
            return (
                f"the {prefix.partition('=')[0]}= prefix must be followed by a cron spec, "
                f"as in '{prefix} 0 2 * * *'"
            )
        location = prefix.partition("=")[2]
        if location and timezone(location) is not None:
            return f"provided bad location {location}: unknown time zone {location}"
        spec = rest.strip()
    if spec.startswith("@"):
        if spec in _CRON_DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            try:
                parse_go_duration(spec[len("@every ") :])
            except DurationError as exc:
                return f"failed to parse duration {spec}: {exc}"
            return None
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        # Go prints the slice with %s: [a b c].
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            error = _cron_part_error(part, name, low, high, names)
            if error:
                return error
    return None


def _cron_part_error(
    part: str, name: str, low: int, high: int, names: dict[str, int]
) -> str | None:
    range_text, slash, step_text = part.partition("/")
    if slash and (not step_text.isdigit() or int(step_text) == 0):
        return f"invalid step in {name} field: {part}"
    if range_text in ("*", "?"):
        return None
    start_text, dash, end_text = range_text.partition("-")
    bounds = []
    for text in (start_text, end_text) if dash else (start_text,):
        number = names.get(text.upper()) if not text.isdigit() else int(text)
        if number is None:
            return f"failed to parse {name} field: {part}"
        if not low <= number <= high:
            return f"{name} value {number} out of range [{low}, {high}]"
        bounds.append(number)
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        return f"beginning of range ({bounds[0]}) beyond end of range ({bounds[1]}): {part}"
    return None


# --- Values inside an Issuer ---


def url(value: str) -> str | None:
    """An absolute URL with a scheme and a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "must be a valid URL"
    if not parts.scheme or not parts.netloc or " " in value:
        return "must be a valid URL"
    return None


def gateway_namespace(value: str) -> str | None:
    """A Gateway API ``Namespace``: the CRD's DNS label pattern and 63 characters."""
    if len(value) > 63:
        return "should be at most 63 chars long"
    if not _DNS1123_LABEL.fullmatch(value):
        return "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"
    return None


def vault_path(value: str) -> str | None:
    """A Vault path: no literal ``..`` segments (cert-manager's containsDotDotSegment)."""
    return "must not contain '..' path segments" if ".." in value.split("/") else None


_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:/\s]+)(?::([0-9]*))?")
_NAMESERVER_MESSAGE = (
    "nameserver must be set in the form host:port where host is an IPv4 address, an "
    "enclosed IPv6 address or a hostname and port is an optional port number."
)


def _split_nameserver(value: str) -> tuple[str, str] | None:
    """``host[:port]`` split as Go's net.SplitHostPort would, or None when malformed."""
    match = _HOST_PORT.fullmatch(value)
    if match is None:
        return None
    host, port = match.group(1), match.group(2) or ""
    if port and not 0 < int(port) < 65536:
        return None
    if host.startswith("["):
        host = host[1:-1]
        if ip_address(host) is not None or ":" not in host:
            return None
    return host, port


def nameserver(value: str) -> str | None:
    """``spec.acme.solvers[].dns01.rfc2136.nameserver`` (cert-manager's ValidNameserver).

    The port is optional, and empty after a colon means 53 too: ``8.8.8.8:``,
    ``[2001:db8::1]:`` and ``ns.example.com:`` are ``...:53``.
    """
    return None if _split_nameserver(value.strip()) else _NAMESERVER_MESSAGE


def normalize_nameserver(value: str) -> str:
    """The ``host:port`` cert-manager's ValidNameserver returns (port 53 by default)."""
    split = _split_nameserver(value.strip())
    if split is None:
        return value
    host, port = split
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port or 53}"


def dns01_nameserver(value: str) -> str | None:
    """A ``dns01.nameservers`` entry: ``host:port``, or an ``https://`` URL with a host."""
    if value.startswith("https://"):
        try:
            has_host = bool(urlsplit(value).hostname)
        except ValueError:
            has_host = False
        if has_host and " " not in value:
            return None
    else:
        split = _split_nameserver(value)
        if split is not None and split[1]:
            return None
    return (
        "must be host:port (an IPv4 address, an IPv6 address in brackets or a hostname, "
        "and a port) or an https:// DNS-over-HTTPS URL with a host"
    )


def ca_bundle(value: str) -> str | None:
    """Base64 of a PEM bundle with at least one certificate that parses."""
    try:
        pem = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return "must be base64-encoded PEM certificates"
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        return "cert bundle didn't contain any valid certificates"
    # Imported here: cryptography costs tens of milliseconds to import and only an
    # issuer with an inline caBundle needs it.
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError:
        return "cert bundle didn't contain any valid certificates"
    return None


# --- Cross-field rule builders ---


def is_set(obj: Mapping[str, Any], name: str) -> bool:
    """A field is set when present and not null (``{}`` counts, as a non-nil pointer)."""
    return obj.get(name) is not None


def is_filled(obj: Mapping[str, Any], name: str) -> bool:
    """A field is filled when set and not empty (cert-manager's ``len(x) > 0``)."""
    return obj.get(name) not in (None, "", [], {})


def text(obj: Mapping[str, Any], name: str) -> str:
    """A string field, or "" when unset or of the wrong type."""
    value = obj.get(name)
    return value if isinstance(value, str) else ""


def child(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A mapping field, or an empty mapping when unset or of the wrong type."""
    value = obj.get(name)
    return value if isinstance(value, Mapping) else {}


def exactly_one(
    names: Sequence[str],
    *,
    none: str,
    many: str,
    many_at_each: bool = False,
    none_required: bool = True,
) -> Rule:
    """A rule: exactly one of ``names`` is set.

    Args:
        names: the alternatives, in the order cert-manager checks them.
        none: the message when none is set (reported on the object).
        many: the message when more than one is set.
        many_at_each: report ``many`` on every alternative after the first (as the
            issuer-type check does) instead of once on the object.
        none_required: report ``none`` as "Required value" (else "Forbidden").
    """

    def rule(obj: Mapping[str, Any], path: Path, out: Problems) -> None:
        chosen = [name for name in names if is_set(obj, name)]
        if not chosen:
            if none_required:
                out.required(path, none)
            else:
                out.forbidden(path, none)
        elif len(chosen) > 1:
            if many_at_each:
                for name in chosen[1:]:
                    out.forbidden((*path, name), many)
            else:
                out.forbidden(path, many)

    return rule


def at_most_one(names: Sequence[str], message: str) -> Rule:
    """A rule: no more than one of ``names`` is set."""

    def rule(obj: Mapping[str, Any], path: Path, out: Problems) -> None:
        if sum(1 for name in names if is_set(obj, name)) > 1:
            out.forbidden(path, message)

    return rule


def mutually_exclusive(first: str, second: str, message: str) -> Rule:
    """A rule: ``first`` and ``second`` are not both filled; reported on both."""

    def rule(obj: Mapping[str, Any], path: Path, out: Problems) -> None:
        if is_filled(obj, first) and is_filled(obj, second):
            out.forbidden((*path, first), message)
            out.forbidden((*path, second), message)

    return rule


def requires(field: str, other: str, message: str) -> Rule:
    """A rule: when ``field`` is set, ``other`` must be filled too."""

    def rule(obj: Mapping[str, Any], path: Path, out: Problems) -> None:
        if is_set(obj, field) and not is_filled(obj, other):
            out.required((*path, other), message)

    return rule


def both_or_neither(first: str, second: str) -> Rule:
    """A rule: ``first`` and ``second`` are set together or not at all."""

    def rule(obj: Mapping[str, Any], path: Path, out: Problems) -> None:
        has_first, has_second = is_filled(obj, first), is_filled(obj, second)
        if has_first and not has_second:
            out.required((*path, second), f"{second} must be provided when defining the {first}")
        elif has_second and not has_first:
            out.required((*path, first), f"{first} must be provided when defining the {second}")

    return rule


def rule_from(check: Callable[[Mapping[str, Any]], tuple[str, str] | None]) -> Rule:
    """Adapt a check that returns ``(field, message)`` into a rule."""

    def rule(obj: Mapping[str, Any], path: Path, out: Problems) -> None:
        found = check(obj)
        if found:
            name, message = found
            out.add((*path, name) if name else path, message)

    return rule


# --- Certificate spec rules (internal/apis/certmanager/validation/certificate.go) ---

_MINIMUM_DURATION = dt.timedelta(hours=1)
_MINIMUM_RENEW_BEFORE = dt.timedelta(minutes=5)
_SIGNATURE_FAMILIES = {
    "RSA": ("SHA256WithRSA", "SHA384WithRSA", "SHA512WithRSA"),
    "ECDSA": ("ECDSAWithSHA256", "ECDSAWithSHA384", "ECDSAWithSHA512"),
    "Ed25519": ("PureEd25519",),
}
_SUBJECT_FIELDS = (
    "organizations",
    "countries",
    "organizationalUnits",
    "localities",
    "provinces",
    "streetAddresses",
    "postalCodes",
    "serialNumber",
)
_NAME_FIELDS = ("dnsNames", "uris", "emailAddresses", "ipAddresses", "otherNames")


def check_certificate_spec(spec: Mapping[str, Any], path: Path, out: Problems) -> None:
    """Every cross-field rule of ``ValidateCertificateSpec``, in cert-manager's order."""
    common_name = _check_subject(spec, path, out)
    if not common_name and not any(is_filled(spec, name) for name in _NAME_FIELDS):
        out.add(
            path,
            "at least one of commonName (from the commonName field or from a literalSubject), "
            "dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set",
        )
    if len(common_name) > 64:
        name = "literalSubject" if is_filled(spec, "literalSubject") else "commonName"
        out.add((*path, name), "Too long: may not be more than 64 bytes")
    _check_private_key(spec, path, out)
    if is_set(spec, "duration") or is_set(spec, "renewBefore"):
        _check_durations(spec, path, out)
    limit = spec.get("revisionHistoryLimit")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit < 1:
        out.invalid((*path, "revisionHistoryLimit"), limit, "must not be less than 1")
    _check_secret_template(spec, path, out)
    _check_name_constraints(spec, path, out)
    _check_output_formats(spec, path, out)
    _check_keystores(spec, path, out)


def _check_subject(spec: Mapping[str, Any], path: Path, out: Problems) -> str:
    """Check literalSubject and return the effective common name."""
    common_name = text(spec, "commonName")
    literal = text(spec, "literalSubject")
    if not literal:
        return common_name
    where = (*path, "literalSubject")
    if common_name:
        out.invalid(
            (*path, "commonName"),
            common_name,
            "When providing a `LiteralSubject` no `commonName` may be provided.",
        )
    subject = child(spec, "subject")
    if any(is_filled(subject, name) for name in _SUBJECT_FIELDS):
        out.add(
            (*path, "subject"),
            "Invalid value: When providing a `LiteralSubject` no `Subject` properties may be "
            "provided.",
        )
    control = control_character(literal)
    if control:
        # certctl: cryptography cannot put these in a name, and they are never intended.
        out.invalid(where, literal, f"must not contain {control}")
    try:
        rdns = parse_literal_subject(literal)
    except ValueError as exc:
        out.invalid(where, literal, str(exc))
        return ""
    literal_cn = ""
    for rdn in rdns:
        for key, value in rdn:
            if key == "CN":
                literal_cn = value
            elif key == "C" and len(value) != 2:
                # certctl: X.520 countryName is exactly two letters, and cryptography
                # refuses any other length in a parsed DN.
                out.invalid(
                    where,
                    literal,
                    f"the country (C) {_quoted(value)} must be a two-letter ISO 3166 code "
                    'such as "DE"',
                )
            if key == "CN" and not value:
                out.invalid(
                    where, literal, "the common name (CN) is empty; give it a value or leave it out"
                )
    # cert-manager reports each unknown type after it has taken the CN (certificate.go).
    for _key, value in unknown_subject_keys(rdns):
        out.invalid(
            where, literal, f"Literal subject contains unrecognized key with value [{value}]"
        )
    return literal_cn


def _quoted(value: str) -> str:
    return f'"{value}"'


def _check_private_key(spec: Mapping[str, Any], path: Path, out: Problems) -> None:
    key = child(spec, "privateKey")
    algorithm = text(key, "algorithm") or "RSA"
    size = key.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        size_path = (*path, "privateKey", "size")
        if algorithm == "RSA" and not 2048 <= size <= 8192:
            out.invalid(size_path, size, "must be between 2048 and 8192 for rsa keyAlgorithm")
        elif algorithm == "ECDSA" and size not in (256, 384, 521):
            out.add(size_path, f'Unsupported value: {size}: supported values: "256", "384", "521"')
    signature = text(spec, "signatureAlgorithm")
    allowed = _SIGNATURE_FAMILIES.get(algorithm)
    if signature and allowed and signature not in allowed:
        out.invalid(
            (*path, "signatureAlgorithm"),
            signature,
            f"for key algorithm {algorithm} the allowed signature algorithms are "
            f"[{' '.join(allowed)}]",
        )


def _duration(spec: Mapping[str, Any], name: str) -> dt.timedelta | None:
    value = spec.get(name)
    if not isinstance(value, str):
        return None
    try:
        return parse_go_duration(value)
    except DurationError:
        return None


def _check_durations(spec: Mapping[str, Any], path: Path, out: Problems) -> None:
    """cert-manager's ValidateDuration, including the renewBeforePercentage quirk (§0)."""
    if is_set(spec, "duration") and _duration(spec, "duration") is None:
        return  # the schema reported the unparsable duration already
    duration = _duration(spec, "duration") or DEFAULT_DURATION
    if duration < _MINIMUM_DURATION:
        out.invalid(
            (*path, "duration"),
            format_go_duration(duration),
            "certificate duration must be greater than 1h0m0s",
        )
    renew_before = _duration(spec, "renewBefore")
    percentage = spec.get("renewBeforePercentage")
    if isinstance(percentage, bool) or not isinstance(percentage, int):
        percentage = None
    if renew_before is not None and percentage is not None:
        message = (
            "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"
        )
        out.invalid((*path, "renewBefore"), format_go_duration(renew_before), message)
        out.invalid((*path, "renewBeforePercentage"), percentage, message)
    if renew_before is not None and renew_before < _MINIMUM_RENEW_BEFORE:
        out.invalid(
            (*path, "renewBefore"),
            format_go_duration(renew_before),
            "certificate renewBefore must be greater than 5m0s",
        )
    if renew_before is not None and renew_before >= duration:
        before = format_go_duration(renew_before)
        out.invalid(
            (*path, "renewBefore"),
            before,
            f"certificate duration {format_go_duration(duration)} must be greater than "
            f"renewBefore {before}",
        )
    if percentage is not None:
        # Go computes duration * (100 - pct) / 100 in integer nanoseconds.
        implied = duration * (100 - percentage) / 100
        if implied < _MINIMUM_RENEW_BEFORE:
            out.invalid(
                (*path, "renewBeforePercentage"),
                percentage,
                "certificate renewBeforePercentage must result in a renewBefore greater than 5m0s",
            )
        if implied >= duration:
            out.invalid(
                (*path, "renewBeforePercentage"),
                percentage,
                "certificate renewBeforePercentage must result in a renewBefore less than duration",
            )


def _check_secret_template(spec: Mapping[str, Any], path: Path, out: Problems) -> None:
    annotations = child(child(spec, "secretTemplate"), "annotations")
    for key in annotations:
        if (
            isinstance(key, str)
            and key.startswith("cert-manager.io/")
            and key != "cert-manager.io/allow-direct-injection"
        ):
            out.invalid(
                (*path, "secretTemplate", "annotations", key),
                key,
                "cert-manager.io/* annotations are not allowed",
            )


def _check_name_constraints(spec: Mapping[str, Any], path: Path, out: Problems) -> None:
    if not is_set(spec, "nameConstraints"):
        return
    constraints = child(spec, "nameConstraints")
    where = (*path, "nameConstraints")
    if spec.get("isCA") is not True:
        out.add(where, "Invalid value: isCa should be true when nameConstraints is set")
    if not is_set(constraints, "permitted") and not is_set(constraints, "excluded"):
        out.add(where, "Invalid value: either permitted or excluded must be set")


def _check_output_formats(spec: Mapping[str, Any], path: Path, out: Problems) -> None:
    formats = spec.get("additionalOutputFormats")
    if not isinstance(formats, list):
        return
    seen: set[str] = set()
    for index, item in enumerate(formats):
        kind = text(item, "type") if isinstance(item, Mapping) else ""
        if not kind:
            continue
        if kind in seen:
            out.add(
                (*path, "additionalOutputFormats", index, "type"),
                f'Duplicate value: "{kind}"',
            )
        seen.add(kind)


def _check_keystores(spec: Mapping[str, Any], path: Path, out: Problems) -> None:
    keystores = child(spec, "keystores")
    for name, label in (("jks", "JKS"), ("pkcs12", "PKCS#12")):
        if not is_set(keystores, name):
            continue
        store = child(keystores, name)
        where = (*path, "keystores", name)
        has_literal = is_set(store, "password")
        has_ref = bool(text(child(store, "passwordSecretRef"), "name"))
        if has_literal and has_ref:
            out.forbidden(
                where,
                f"exactly one of passwordSecretRef and password must be provided for {label} "
                "keystores; cannot set both",
            )
        if not has_literal and not has_ref:
            out.forbidden(
                where,
                f"must set exactly one of passwordSecretRef and password for {label} keystores",
            )
        if has_literal and store.get("password") == "":
            out.forbidden(
                (*where, "password"),
                f"literal password cannot be empty if set on {label} keystores",
            )


def check_renewal(renewal: Mapping[str, Any], path: Path, out: Problems) -> None:
    """``spec.renewal``: Disabled forbids windows (v1.21)."""
    if text(renewal, "policy") == "Disabled" and is_filled(renewal, "windows"):
        out.forbidden(
            (*path, "windows"), "windows cannot be set when `renewal.policy` is set to Disabled"
        )
