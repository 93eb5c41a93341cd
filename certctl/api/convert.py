"""Turn validated documents into the typed, defaulted models of ``certctl.api.models``.

Everything here runs after the schema and the webhook rules found no problem,
so values have the right types. The defaults are cert-manager's
(``internal/apis/certmanager/v1/defaults.go`` and the runtime defaults in the
controllers), as listed in ``shared/reference/cert-manager.md`` §0 and §1.2-1.4.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from certctl.api import resources
from certctl.api.duration import parse_go_duration
from certctl.api.models import (
    DEFAULT_DURATION,
    DEFAULT_USAGES,
    Certificate,
    CertificateSpec,
    IssuerRef,
    IssuerSpec,
    IssuerType,
    JKSKeystore,
    KeyAlgorithm,
    KeyEncoding,
    Keystores,
    NameConstraintItem,
    NameConstraints,
    ObjectMeta,
    OtherName,
    PKCS12Keystore,
    PrivateKeySpec,
    RenewalSpec,
    RenewalWindow,
    RotationPolicy,
    SecretKeySelector,
    SecretTemplate,
    Source,
    X509Subject,
)
from certctl.api.schema import apply_defaults

_DEFAULT_KEY_SIZES = {"RSA": 2048, "ECDSA": 256, "Ed25519": 0}

Raw = Mapping[str, Any]


def to_metadata(raw: Raw, namespace: str | None) -> ObjectMeta:
    """``metadata`` with the namespace the loader decided on."""
    return ObjectMeta(
        name=raw["name"],
        namespace=namespace,
        labels=dict(raw.get("labels") or {}),
        annotations=dict(raw.get("annotations") or {}),
    )


def to_certificate(document: Raw, namespace: str, source: Source) -> Certificate:
    """A validated Certificate document as a model with every default applied."""
    metadata = to_metadata(document["metadata"], namespace)
    return Certificate(
        metadata=metadata, spec=to_certificate_spec(document["spec"]), source=source, raw=document
    )


def to_certificate_spec(spec: Raw) -> CertificateSpec:
    """``spec`` of a Certificate; see the module docstring for where defaults come from."""
    duration_text = spec.get("duration")
    renew_before = spec.get("renewBefore")
    usages = spec.get("usages")
    encode = spec.get("encodeUsagesInRequest")
    return CertificateSpec(
        secret_name=spec["secretName"],
        issuer_ref=_issuer_ref(spec["issuerRef"]),
        common_name=spec.get("commonName") or "",
        literal_subject=spec.get("literalSubject") or "",
        subject=_subject(spec.get("subject")),
        dns_names=_strings(spec.get("dnsNames")),
        ip_addresses=_strings(spec.get("ipAddresses")),
        uris=_strings(spec.get("uris")),
        email_addresses=_strings(spec.get("emailAddresses")),
        other_names=tuple(
            OtherName(oid=item["oid"], utf8_value=item["utf8Value"])
            for item in spec.get("otherNames") or ()
        ),
        duration=parse_go_duration(duration_text) if duration_text else DEFAULT_DURATION,
        duration_set=duration_text is not None,
        renew_before=parse_go_duration(renew_before) if renew_before is not None else None,
        renew_before_percentage=spec.get("renewBeforePercentage"),
        renewal=_renewal(spec.get("renewal")),
        secret_template=_secret_template(spec.get("secretTemplate")),
        keystores=_keystores(spec.get("keystores")),
        is_ca=bool(spec.get("isCA")),
        # An empty list is "unset" too: Go cannot tell them apart after decoding.
        usages=tuple(usages) if usages else DEFAULT_USAGES,
        private_key=_private_key(spec.get("privateKey")),
        signature_algorithm=spec.get("signatureAlgorithm") or "",
        encode_usages_in_request=True if encode is None else bool(encode),
        revision_history_limit=spec.get("revisionHistoryLimit"),
        additional_output_formats=tuple(
            item["type"] for item in spec.get("additionalOutputFormats") or ()
        ),
        name_constraints=_name_constraints(spec.get("nameConstraints")),
    )


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value) if value else ()


def _issuer_ref(raw: Raw) -> IssuerRef:
    return IssuerRef(name=raw["name"], kind=raw.get("kind") or "", group=raw.get("group") or "")


def _subject(raw: Raw | None) -> X509Subject | None:
    if raw is None:
        return None
    return X509Subject(
        organizations=_strings(raw.get("organizations")),
        countries=_strings(raw.get("countries")),
        organizational_units=_strings(raw.get("organizationalUnits")),
        localities=_strings(raw.get("localities")),
        provinces=_strings(raw.get("provinces")),
        street_addresses=_strings(raw.get("streetAddresses")),
        postal_codes=_strings(raw.get("postalCodes")),
        serial_number=raw.get("serialNumber") or "",
    )


def _private_key(raw: Raw | None) -> PrivateKeySpec:
    raw = raw or {}
    algorithm = cast(KeyAlgorithm, raw.get("algorithm") or "RSA")
    size = raw.get("size") or 0
    encoding: KeyEncoding
    if algorithm == "Ed25519":
        # The size is ignored for Ed25519, and the key is always written as PKCS#8.
        size, encoding = 0, "PKCS8"
    else:
        size = size or _DEFAULT_KEY_SIZES[algorithm]
        encoding = cast(KeyEncoding, raw.get("encoding") or "PKCS1")
    return PrivateKeySpec(
        algorithm=algorithm,
        size=size,
        encoding=encoding,
        # Always since cert-manager v1.18 (§0), whatever the website says.
        rotation_policy=cast(RotationPolicy, raw.get("rotationPolicy") or "Always"),
    )


def _secret_ref(raw: Raw | None) -> SecretKeySelector | None:
    if not raw or not raw.get("name"):
        return None
    return SecretKeySelector(name=raw["name"], key=raw.get("key") or None)


def _keystores(raw: Raw | None) -> Keystores | None:
    if raw is None:
        return None
    jks = raw.get("jks")
    pkcs12 = raw.get("pkcs12")
    return Keystores(
        jks=None
        if jks is None
        else JKSKeystore(
            create=jks["create"],
            alias=jks.get("alias") or "certificate",
            password_secret_ref=_secret_ref(jks.get("passwordSecretRef")),
            password=jks.get("password"),
        ),
        pkcs12=None
        if pkcs12 is None
        else PKCS12Keystore(
            create=pkcs12["create"],
            password_secret_ref=_secret_ref(pkcs12.get("passwordSecretRef")),
            password=pkcs12.get("password"),
            profile=pkcs12.get("profile") or "LegacyRC2",
        ),
    )


def _renewal(raw: Raw | None) -> RenewalSpec | None:
    if raw is None:
        return None
    return RenewalSpec(
        policy=raw["policy"],
        windows=tuple(_renewal_window(window) for window in raw.get("windows") or ()),
    )


def _renewal_window(raw: Raw) -> RenewalWindow:
    cron, zone = raw["cron"], raw.get("timezone") or ""
    if not zone and cron.startswith(("TZ=", "CRON_TZ=")):
        # cert-manager's cron parser takes the zone from a CRON_TZ= (or TZ=) prefix
        # when timezone is unset; validation made sure a spec follows it.
        prefix, _, cron = cron.partition(" ")
        zone, cron = prefix.partition("=")[2], cron.strip()
    return RenewalWindow(
        cron=cron,
        window_duration=parse_go_duration(raw["windowDuration"]),
        timezone=zone or "UTC",
    )


def _secret_template(raw: Raw | None) -> SecretTemplate | None:
    if raw is None:
        return None
    return SecretTemplate(
        annotations=dict(raw.get("annotations") or {}), labels=dict(raw.get("labels") or {})
    )


def _name_constraint_item(raw: Raw | None) -> NameConstraintItem | None:
    if raw is None:
        return None
    return NameConstraintItem(
        dns_domains=_strings(raw.get("dnsDomains")),
        ip_ranges=_strings(raw.get("ipRanges")),
        email_addresses=_strings(raw.get("emailAddresses")),
        uri_domains=_strings(raw.get("uriDomains")),
    )


def _name_constraints(raw: Raw | None) -> NameConstraints | None:
    if raw is None:
        return None
    return NameConstraints(
        critical=bool(raw.get("critical")),
        permitted=_name_constraint_item(raw.get("permitted")),
        excluded=_name_constraint_item(raw.get("excluded")),
    )


def to_issuer_spec(spec: Raw) -> IssuerSpec:
    """The one issuer block of a validated Issuer spec, with its defaults filled in."""
    for name, block in resources.ISSUER_BLOCKS.items():
        if spec.get(name) is not None:
            config = apply_defaults(block, spec[name])
            return IssuerSpec(type=cast(IssuerType, name), config=config)
    raise ValueError("validated Issuer spec has no issuer block")  # pragma: no cover
