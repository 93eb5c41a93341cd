"""The schemas of cert-manager.io/v1 Certificate, Issuer and ClusterIssuer.

Each block reads like the API reference (``shared/reference/cert-manager.md``
§1.2-1.4, §3, §4.1-4.2): field name, type, whether it is required, its
default, and the cross-field rules cert-manager's webhook applies. Defaults
declared here are the ones filled into ``IssuerSpec.config``; Certificate
defaults live in ``certctl.api.convert`` next to the typed model they fill.

certctl extensions (DESIGN.md §4) are marked as such: ``http01.standalone``,
``http01.webroot`` and ``dns01.exec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from certctl.api import validation as v
from certctl.api.schema import (
    AnyValue,
    Bool,
    Duration,
    Field,
    Int,
    ListOf,
    MapOf,
    Obj,
    Path,
    Problems,
    Str,
)

# --- Shared pieces ---

STRINGS = ListOf(Str())
STRING_MAP = MapOf(Str())
LABELS = MapOf(Str(), rules=[v.check_labels])
ANNOTATIONS = MapOf(Str(), rules=[v.check_annotations])
URLS = ListOf(Str(check=v.url))
#: A Secret's name, wherever a manifest points at one. cert-manager's webhook does not
#: check these, but no Secret can have another name, and the stores refuse them: certctl
#: rejects them up front so that a run never stops half way (exit 2, nothing written).
SECRET_NAME = Str(check=v.dns1123_subdomain)


def secret_key_ref(*, key_required: bool = False, key_default: str | None = None) -> Obj:
    """A ``SecretKeySelector{name, key}``.

    Args:
        key_required: cert-manager's ValidateSecretKeySelector also demands ``key``.
        key_default: the key used when the manifest leaves it out.
    """
    return Obj(
        {
            "name": Field(SECRET_NAME, required=True, required_detail="secret name is required"),
            "key": Field(
                Str(),
                required=key_required,
                required_detail="secret key is required",
                default=key_default,
            ),
        }
    )


LOCAL_REF = Obj({"name": Field(SECRET_NAME, required=True)})
SERVICE_ACCOUNT_REF = Obj(
    {"name": Field(Str(), required=True), "audiences": Field(STRINGS)},
)

# --- ObjectMeta: the fields cert-manager reads are checked, what kubectl emits is allowed ---

METADATA = Obj(
    {
        "name": Field(Str(check=v.dns1123_subdomain), required=True),
        "namespace": Field(Str(check=v.dns1123_label)),
        "labels": Field(LABELS),
        "annotations": Field(ANNOTATIONS),
        "generateName": Field(Str()),
        "uid": Field(AnyValue()),
        "resourceVersion": Field(AnyValue()),
        "generation": Field(AnyValue()),
        "creationTimestamp": Field(AnyValue()),
        "deletionTimestamp": Field(AnyValue()),
        "deletionGracePeriodSeconds": Field(AnyValue()),
        "selfLink": Field(AnyValue()),
        "managedFields": Field(AnyValue()),
        "ownerReferences": Field(AnyValue()),
        "finalizers": Field(AnyValue()),
    }
)


def top_level(spec: Obj) -> Obj:
    """A whole object: apiVersion, kind, metadata, spec, and an ignored status."""
    return Obj(
        {
            "apiVersion": Field(Str(), required=True),
            "kind": Field(Str(), required=True),
            "metadata": Field(METADATA, required=True),
            "spec": Field(spec, required=True),
            "status": Field(AnyValue()),
        }
    )


# --- Certificate (§1.2-1.4) ---

NAME_CONSTRAINT_ITEM = Obj(
    {
        "dnsDomains": Field(ListOf(Str(check=v.dns_name))),
        "ipRanges": Field(ListOf(Str(check=v.cidr))),
        # "a@example.com", "example.com" or ".example.com", in ASCII.
        "emailAddresses": Field(ListOf(Str(check=v.ascii_email))),
        "uriDomains": Field(ListOf(Str(check=v.dns_name))),
    }
)

RENEWAL_WINDOW = Obj(
    {
        "cron": Field(Str(), required=True),
        "windowDuration": Field(
            Str(check=v.window_duration),
            required=True,
            required_detail="windowDuration must be specified and should be greater than 0",
        ),
        # The CRD gives timezone a minimum length of 1.
        "timezone": Field(Str(min_length=1, check=v.timezone)),
    },
    rules=[v.check_renewal_window],
)

PASSWORD_FIELDS = {
    "create": Field(Bool(), required=True),
    "passwordSecretRef": Field(secret_key_ref()),
    "password": Field(Str()),
}

CERTIFICATE_SPEC = Obj(
    {
        "secretName": Field(
            Str(check=v.dns1123_subdomain), required=True, required_detail="must be specified"
        ),
        "issuerRef": Field(
            Obj(
                {
                    "name": Field(Str(), required=True, required_detail="must be specified"),
                    "kind": Field(Str()),
                    "group": Field(Str()),
                },
                rules=[lambda ref, path, out: check_issuer_ref(ref, path, out)],
            ),
            required=True,
        ),
        "commonName": Field(Str()),
        "literalSubject": Field(Str()),
        "subject": Field(
            Obj(
                {
                    "organizations": Field(STRINGS),
                    "countries": Field(ListOf(Str(check=v.country))),
                    "organizationalUnits": Field(STRINGS),
                    "localities": Field(STRINGS),
                    "provinces": Field(STRINGS),
                    "streetAddresses": Field(STRINGS),
                    "postalCodes": Field(STRINGS),
                    "serialNumber": Field(Str()),
                }
            )
        ),
        "dnsNames": Field(ListOf(Str(check=v.dns_name))),
        "ipAddresses": Field(ListOf(Str(check=v.ip_address))),
        "uris": Field(ListOf(Str(check=v.uri_san))),
        "emailAddresses": Field(ListOf(Str(check=v.email_san))),
        "otherNames": Field(
            ListOf(
                Obj(
                    {
                        "oid": Field(
                            Str(check=v.object_identifier),
                            required=True,
                            required_detail="must be specified",
                        ),
                        "utf8Value": Field(
                            Str(),
                            required=True,
                            required_detail="must be set to a valid non-empty UTF8 string",
                        ),
                    }
                )
            )
        ),
        "duration": Field(Duration()),
        "renewBefore": Field(Duration()),
        "renewBeforePercentage": Field(Int()),
        "renewal": Field(
            Obj(
                {
                    "policy": Field(Str(enum=("RenewBefore", "Disabled")), required=True),
                    "windows": Field(ListOf(RENEWAL_WINDOW)),
                },
                rules=[v.check_renewal],
            )
        ),
        "secretTemplate": Field(Obj({"annotations": Field(ANNOTATIONS), "labels": Field(LABELS)})),
        "keystores": Field(
            Obj(
                {
                    "jks": Field(
                        Obj({**PASSWORD_FIELDS, "alias": Field(Str(), default="certificate")})
                    ),
                    "pkcs12": Field(
                        Obj(
                            {
                                **PASSWORD_FIELDS,
                                "profile": Field(
                                    Str(enum=("LegacyRC2", "LegacyDES", "Modern2023", "Modern2026"))
                                ),
                            }
                        )
                    ),
                }
            )
        ),
        "isCA": Field(Bool()),
        "usages": Field(ListOf(Str(check=v.key_usage))),
        "privateKey": Field(
            Obj(
                {
                    "rotationPolicy": Field(Str(enum=("Never", "Always"))),
                    "encoding": Field(Str(enum=("PKCS1", "PKCS8"))),
                    "algorithm": Field(Str(enum=("RSA", "ECDSA", "Ed25519"))),
                    "size": Field(Int()),
                }
            )
        ),
        "signatureAlgorithm": Field(
            Str(
                enum=(
                    "SHA256WithRSA",
                    "SHA384WithRSA",
                    "SHA512WithRSA",
                    "ECDSAWithSHA256",
                    "ECDSAWithSHA384",
                    "ECDSAWithSHA512",
                    "PureEd25519",
                )
            )
        ),
        "encodeUsagesInRequest": Field(Bool()),
        "revisionHistoryLimit": Field(Int()),
        "additionalOutputFormats": Field(
            ListOf(Obj({"type": Field(Str(enum=("DER", "CombinedPEM")), required=True)}))
        ),
        "nameConstraints": Field(
            Obj(
                {
                    "critical": Field(Bool()),
                    "permitted": Field(NAME_CONSTRAINT_ITEM),
                    "excluded": Field(NAME_CONSTRAINT_ITEM),
                }
            )
        ),
    },
    rules=[v.check_certificate_spec],
)


def check_issuer_ref(ref: Mapping[str, Any], path: Path, out: Problems) -> None:
    """cert-manager's validateIssuerRef: kind rules for the cert-manager.io group."""
    group = v.text(ref, "group")
    kind = v.text(ref, "kind")
    if group not in ("", "cert-manager.io") or kind in ("", "Issuer", "ClusterIssuer"):
        return
    message = "must be one of Issuer or ClusterIssuer"
    if not group:
        # The usual cause is an external issuer kind (AWSPCAClusterIssuer) without its group.
        message += " (did you forget to set spec.issuerRef.group?)"
    out.invalid((*path, "kind"), kind, message)


CERTIFICATE = top_level(CERTIFICATE_SPEC)

# --- HTTP-01 solver (§4.1) ---

SERVICE_TYPE = Str(enum=("ClusterIP", "NodePort"))
OBJECT_META_TEMPLATE = Obj({"labels": Field(STRING_MAP), "annotations": Field(STRING_MAP)})

POD_SECURITY_CONTEXT = Obj(
    {
        "seLinuxOptions": Field(
            Obj(
                {
                    "user": Field(Str()),
                    "role": Field(Str()),
                    "type": Field(Str()),
                    "level": Field(Str()),
                }
            )
        ),
        "runAsUser": Field(Int(minimum=-(2**63), maximum=2**63 - 1)),
        "runAsGroup": Field(Int(minimum=-(2**63), maximum=2**63 - 1)),
        "runAsNonRoot": Field(Bool()),
        "supplementalGroups": Field(ListOf(Int(minimum=-(2**63), maximum=2**63 - 1))),
        "fsGroup": Field(Int(minimum=-(2**63), maximum=2**63 - 1)),
        "sysctls": Field(
            ListOf(Obj({"name": Field(Str(), required=True), "value": Field(Str(), required=True)}))
        ),
        "fsGroupChangePolicy": Field(Str()),
        "seccompProfile": Field(
            Obj({"type": Field(Str(), required=True), "localhostProfile": Field(Str())})
        ),
    }
)

POD_TEMPLATE = Obj(
    {
        "metadata": Field(OBJECT_META_TEMPLATE),
        "spec": Field(
            Obj(
                {
                    "nodeSelector": Field(STRING_MAP),
                    # The affinity API is large and cert-manager passes it through as is.
                    "affinity": Field(Obj({}, open=True)),
                    "tolerations": Field(
                        ListOf(
                            Obj(
                                {
                                    "key": Field(Str()),
                                    "operator": Field(Str()),
                                    "value": Field(Str()),
                                    "effect": Field(Str()),
                                    "tolerationSeconds": Field(
                                        Int(minimum=-(2**63), maximum=2**63 - 1)
                                    ),
                                }
                            )
                        )
                    ),
                    "priorityClassName": Field(Str()),
                    "serviceAccountName": Field(Str()),
                    "imagePullSecrets": Field(ListOf(Obj({"name": Field(Str())}))),
                    "securityContext": Field(POD_SECURITY_CONTEXT),
                    "resources": Field(
                        Obj(
                            {
                                "limits": Field(MapOf(AnyValue())),
                                "requests": Field(MapOf(AnyValue())),
                            }
                        )
                    ),
                }
            )
        ),
    }
)

INGRESS_SOLVER = Obj(
    {
        "serviceType": Field(SERVICE_TYPE),
        "ingressClassName": Field(
            Str(
                check=lambda name: _prefixed(
                    "must be a valid IngressClass name: ", v.dns1123_subdomain(name)
                )
            )
        ),
        "class": Field(Str()),
        "name": Field(Str()),
        "podTemplate": Field(POD_TEMPLATE),
        "ingressTemplate": Field(Obj({"metadata": Field(OBJECT_META_TEMPLATE)})),
    },
    rules=[
        v.at_most_one(
            ("ingressClassName", "name", "class"),
            "only one of 'ingressClassName', 'name' or 'class' should be specified",
        )
    ],
)


def _prefixed(prefix: str, message: str | None) -> str | None:
    return prefix + message if message else None


# A Gateway API ParentReference. The CRD defaults group and kind (to a Gateway) before
# the webhook's "kind is required when name is specified" can see a missing kind, and
# requires name; namespace has the DNS label pattern.
PARENT_REF = Obj(
    {
        "group": Field(Str(), default="gateway.networking.k8s.io"),
        "kind": Field(Str(), default="Gateway"),
        "namespace": Field(Str(min_length=1, check=v.gateway_namespace)),
        "name": Field(Str(), required=True),
        "sectionName": Field(Str()),
        "port": Field(Int(minimum=1, maximum=65535)),
    }
)

GATEWAY_SOLVER = Obj(
    {
        "serviceType": Field(SERVICE_TYPE),
        "labels": Field(STRING_MAP),
        "parentRefs": Field(ListOf(PARENT_REF)),
        "podTemplate": Field(POD_TEMPLATE),
    }
)

HTTP01_SOLVER_TYPES = ("ingress", "gatewayHTTPRoute", "standalone", "webroot")

HTTP01 = Obj(
    {
        "ingress": Field(INGRESS_SOLVER),
        "gatewayHTTPRoute": Field(GATEWAY_SOLVER),
        # certctl extension: answer on a local listener.
        "standalone": Field(
            Obj(
                {
                    "port": Field(Int(minimum=1, maximum=65535), default=80),
                    "address": Field(Str(), default=""),
                }
            )
        ),
        # certctl extension: write the token under a web server's document root.
        "webroot": Field(Obj({"path": Field(Str(), required=True)})),
    },
    rules=[
        v.exactly_one(
            HTTP01_SOLVER_TYPES,
            none="no HTTP01 solver type configured",
            many="only 1 HTTP01 solver type may be configured",
        )
    ],
)

# --- DNS-01 solver (§4.2) ---

AZURE_ENVIRONMENTS = (
    "AzurePublicCloud",
    "AzureChinaCloud",
    "AzureGermanCloud",
    "AzureUSGovernmentCloud",
)


def check_azure(azure: Mapping[str, Any], path: Path, out: Problems) -> None:
    """azureDNS: a full service principal, or a managed identity, never both."""
    principal = ("clientID", "clientSecretSecretRef", "tenantID")
    identity = v.child(azure, "managedIdentity")
    if any(v.is_filled(azure, name) for name in principal):
        for name in principal:
            if not v.is_filled(azure, name):
                out.required((*path, name))
        if v.is_set(azure, "managedIdentity"):
            out.forbidden(
                (*path, "managedIdentity"),
                "managed identity cannot be used at the same time as clientID, "
                "clientSecretSecretRef or tenantID",
            )
        return
    where = (*path, "managedIdentity")
    if v.text(identity, "clientID") and v.text(identity, "resourceID"):
        out.forbidden(
            where, "managedIdentityClientID and managedIdentityResourceID cannot both be specified"
        )
    if v.text(identity, "tenantID") and v.text(identity, "resourceID"):
        out.forbidden(
            where, "managedIdentityTenantID and managedIdentityResourceID cannot both be specified"
        )
    if v.text(identity, "tenantID") and not v.text(identity, "clientID"):
        out.required(
            where, "managedIdentityClientID is required when using managedIdentityTenantID"
        )


def check_cloudflare(cloudflare: Mapping[str, Any], path: Path, out: Problems) -> None:
    """cloudflare: an API token or an API key (with email), not both."""
    has_key = v.is_set(cloudflare, "apiKeySecretRef")
    has_token = v.is_set(cloudflare, "apiTokenSecretRef")
    if has_key and has_token:
        out.forbidden(path, "apiKeySecretRef and apiTokenSecretRef cannot both be specified")
    if not has_key and not has_token:
        out.required(path, "apiKeySecretRef or apiTokenSecretRef is required")
    if has_key and not v.text(cloudflare, "email"):
        out.required((*path, "email"))


def check_rfc2136(rfc2136: Mapping[str, Any], path: Path, out: Problems) -> None:
    """rfc2136: tsigKeyName and tsigSecretSecretRef come together."""
    secret = v.child(rfc2136, "tsigSecretSecretRef")
    secret_complete = bool(v.text(secret, "name") and v.text(secret, "key"))
    if v.text(rfc2136, "tsigKeyName"):
        where = (*path, "tsigSecretSecretRef")
        if not v.text(secret, "name"):
            out.required((*where, "name"), "secret name is required")
        if not v.text(secret, "key"):
            out.required((*where, "key"), "secret key is required")
    elif secret_complete:
        out.required((*path, "tsigKeyName"))


DNS01_PROVIDERS = (
    "akamai",
    "azureDNS",
    "cloudDNS",
    "cloudflare",
    "route53",
    "acmeDNS",
    "digitalocean",
    "rfc2136",
    "webhook",
    "exec",
)

DNS01 = Obj(
    {
        "cnameStrategy": Field(Str(enum=("None", "Follow"))),
        "nameservers": Field(ListOf(Str(check=v.dns01_nameserver))),
        "akamai": Field(
            Obj(
                {
                    "serviceConsumerDomain": Field(Str(), required=True),
                    "clientTokenSecretRef": Field(secret_key_ref(key_required=True), required=True),
                    "clientSecretSecretRef": Field(
                        secret_key_ref(key_required=True), required=True
                    ),
                    "accessTokenSecretRef": Field(secret_key_ref(key_required=True), required=True),
                }
            )
        ),
        "azureDNS": Field(
            Obj(
                {
                    "clientID": Field(Str()),
                    "clientSecretSecretRef": Field(secret_key_ref(key_required=True)),
                    "subscriptionID": Field(Str(), required=True),
                    "tenantID": Field(Str()),
                    "resourceGroupName": Field(Str(), required=True),
                    "hostedZoneName": Field(Str()),
                    "environment": Field(Str(enum=AZURE_ENVIRONMENTS), default="AzurePublicCloud"),
                    "managedIdentity": Field(
                        Obj(
                            {
                                "clientID": Field(Str()),
                                "resourceID": Field(Str()),
                                "tenantID": Field(Str()),
                            }
                        )
                    ),
                    "zoneType": Field(
                        Str(enum=("AzurePublicZone", "AzurePrivateZone")), default="AzurePublicZone"
                    ),
                },
                rules=[check_azure],
            )
        ),
        "cloudDNS": Field(
            Obj(
                {
                    "serviceAccountSecretRef": Field(secret_key_ref(key_required=True)),
                    "project": Field(Str(), required=True),
                    "hostedZoneName": Field(Str()),
                }
            )
        ),
        "cloudflare": Field(
            Obj(
                {
                    "email": Field(Str()),
                    "apiKeySecretRef": Field(secret_key_ref(key_required=True)),
                    "apiTokenSecretRef": Field(secret_key_ref(key_required=True)),
                },
                rules=[check_cloudflare],
            )
        ),
        "route53": Field(
            Obj(
                {
                    "accessKeyID": Field(Str()),
                    "accessKeyIDSecretRef": Field(secret_key_ref(key_required=True)),
                    "secretAccessKeySecretRef": Field(secret_key_ref()),
                    "role": Field(Str()),
                    "hostedZoneID": Field(Str()),
                    "region": Field(Str()),
                    "auth": Field(
                        Obj(
                            {
                                "kubernetes": Field(
                                    Obj(
                                        {
                                            "serviceAccountRef": Field(
                                                SERVICE_ACCOUNT_REF, required=True
                                            )
                                        }
                                    ),
                                    required=True,
                                )
                            }
                        )
                    ),
                },
                rules=[
                    v.mutually_exclusive(
                        "accessKeyID",
                        "accessKeyIDSecretRef",
                        "accessKeyID and accessKeyIDSecretRef cannot both be specified",
                    )
                ],
            )
        ),
        "acmeDNS": Field(
            Obj(
                {
                    "host": Field(Str(), required=True),
                    "accountSecretRef": Field(secret_key_ref(key_required=True), required=True),
                    "caBundle": Field(Str(check=v.ca_bundle)),
                }
            )
        ),
        "digitalocean": Field(
            Obj({"tokenSecretRef": Field(secret_key_ref(key_required=True), required=True)})
        ),
        "rfc2136": Field(
            Obj(
                {
                    "nameserver": Field(
                        Str(check=v.nameserver), required=True, normalize=v.normalize_nameserver
                    ),
                    "tsigSecretSecretRef": Field(secret_key_ref()),
                    "tsigKeyName": Field(Str()),
                    "tsigAlgorithm": Field(
                        Str(
                            enum=("HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"),
                            case_insensitive=True,
                        ),
                        default="HMACMD5",
                    ),
                    "protocol": Field(Str(enum=("UDP", "TCP")), default="UDP"),
                },
                rules=[check_rfc2136],
            )
        ),
        "webhook": Field(
            Obj(
                {
                    "groupName": Field(Str(), required=True),
                    "solverName": Field(
                        Str(), required=True, required_detail="solver name must be specified"
                    ),
                    "config": Field(AnyValue()),
                }
            )
        ),
        # certctl extension: run a hook with "present|cleanup FQDN VALUE" appended.
        "exec": Field(Obj({"command": Field(ListOf(Str(), min_items=1), required=True)})),
    },
    first_only=DNS01_PROVIDERS,
    rules=[
        v.exactly_one(
            DNS01_PROVIDERS,
            none="no DNS01 provider configured",
            many="may not specify more than one provider type",
            many_at_each=True,
            none_required=True,
        )
    ],
)

# --- ACME issuer (§3.2, §3.3) ---

SOLVER = Obj(
    {
        "selector": Field(
            Obj(
                {
                    "matchLabels": Field(STRING_MAP),
                    "dnsNames": Field(STRINGS),
                    "dnsZones": Field(STRINGS),
                }
            )
        ),
        "http01": Field(HTTP01),
        "dns01": Field(DNS01),
        "waitInsteadOfSelfCheck": Field(Duration()),
    },
    first_only=("http01", "dns01"),
    rules=[
        v.exactly_one(
            ("http01", "dns01"),
            none="no solver type configured",
            many="may not specify more than one solver type in a single solver",
        )
    ],
)

ACME = Obj(
    {
        "email": Field(Str()),
        # Only required: cert-manager does not parse the URL at admission (the issuer
        # then fails to reach it, as certctl's issue does).
        "server": Field(
            Str(),
            required=True,
            required_detail="acme server URL is a required field",
        ),
        "preferredChain": Field(Str(max_length=64)),
        "caBundle": Field(Str(check=v.ca_bundle)),
        "skipTLSVerify": Field(Bool()),
        "externalAccountBinding": Field(
            Obj(
                {
                    "keyID": Field(
                        Str(),
                        required=True,
                        required_detail="the keyID field is required when using "
                        "externalAccountBinding",
                    ),
                    "keySecretRef": Field(secret_key_ref(key_required=True), required=True),
                    # Deprecated upstream (HS256 is always used), still accepted.
                    "keyAlgorithm": Field(Str(enum=("HS256", "HS384", "HS512"))),
                }
            )
        ),
        "privateKeySecretRef": Field(
            Obj(
                {
                    "name": Field(
                        SECRET_NAME,
                        required=True,
                        required_detail="private key secret name is a required field",
                    ),
                    "key": Field(Str(), default="tls.key"),
                }
            ),
            required=True,
            required_detail="private key secret name is a required field",
        ),
        "solvers": Field(ListOf(SOLVER)),
        "disableAccountKeyGeneration": Field(Bool()),
        "enableDurationFeature": Field(Bool()),
        "profile": Field(Str()),
        "renewalInformationSource": Field(Str(enum=("ARI", "None"))),
    },
    rules=[
        v.mutually_exclusive(
            "caBundle",
            "skipTLSVerify",
            "caBundle and skipTLSVerify are mutually exclusive and cannot both be set",
        )
    ],
)

# --- CA, SelfSigned (§3.4, §3.5) ---

CA = Obj(
    {
        "secretName": Field(SECRET_NAME, required=True),
        "crlDistributionPoints": Field(URLS),
        "ocspServers": Field(URLS),
        "issuingCertificateURLs": Field(URLS),
    }
)

SELF_SIGNED = Obj({"crlDistributionPoints": Field(URLS)})

# --- Vault (§3.6) ---

VAULT_MOUNT_PATH = Str(check=v.vault_path)

VAULT_AUTH = Obj(
    {
        "tokenSecretRef": Field(secret_key_ref(key_default="token")),
        "appRole": Field(
            Obj(
                {
                    # Required by the CRD; there is no default mount.
                    "path": Field(VAULT_MOUNT_PATH, required=True),
                    "roleId": Field(Str(), required=True),
                    "secretRef": Field(secret_key_ref(), required=True),
                }
            )
        ),
        "clientCertificate": Field(
            Obj(
                {
                    "mountPath": Field(VAULT_MOUNT_PATH, default="/v1/auth/cert"),
                    "secretName": Field(SECRET_NAME),
                    "name": Field(Str()),
                }
            )
        ),
        "kubernetes": Field(
            Obj(
                {
                    "mountPath": Field(VAULT_MOUNT_PATH, default="/v1/auth/kubernetes"),
                    "secretRef": Field(secret_key_ref(key_default="token")),
                    "serviceAccountRef": Field(SERVICE_ACCOUNT_REF),
                    "role": Field(Str(), required=True),
                },
                rules=[
                    v.exactly_one(
                        ("secretRef", "serviceAccountRef"),
                        none="please supply one of: secretRef, serviceAccountRef",
                        many="please supply one of: secretRef, serviceAccountRef",
                    )
                ],
            )
        ),
        "aws": Field(
            Obj(
                {
                    "mountPath": Field(VAULT_MOUNT_PATH, default="/v1/auth/aws"),
                    "role": Field(Str(), required=True),
                    "region": Field(Str()),
                    "serviceAccountRef": Field(SERVICE_ACCOUNT_REF),
                    "iamRoleArn": Field(Str()),
                    "vaultHeaderValue": Field(Str()),
                },
                rules=[
                    v.requires(
                        "serviceAccountRef",
                        "iamRoleArn",
                        "iamRoleArn is required when using serviceAccountRef for IRSA",
                    )
                ],
            )
        ),
    },
    # cert-manager documents a precedence instead of rejecting several methods, so
    # only "none at all" is an error (tokenSecretRef > appRole > clientCertificate > ...).
    rules=[
        v.rule_from(
            lambda auth: (
                None
                if any(
                    v.is_set(auth, name)
                    for name in (
                        "tokenSecretRef",
                        "appRole",
                        "clientCertificate",
                        "kubernetes",
                        "aws",
                    )
                )
                else (
                    "",
                    "Required value: please supply one of: appRole, kubernetes, tokenSecretRef, "
                    "clientCertificate, aws",
                )
            )
        )
    ],
)

VAULT = Obj(
    {
        # Only required, as for ACME: cert-manager does not parse it at admission.
        "server": Field(Str(), required=True),
        "path": Field(Str(check=v.vault_path), required=True),
        "namespace": Field(Str()),
        "serverName": Field(Str()),
        "caBundle": Field(Str(check=v.ca_bundle)),
        "caBundleSecretRef": Field(secret_key_ref(key_default="ca.crt")),
        "clientCertSecretRef": Field(secret_key_ref()),
        "clientKeySecretRef": Field(secret_key_ref()),
        "auth": Field(
            VAULT_AUTH,
            required=True,
            required_detail="please supply one of: appRole, kubernetes, tokenSecretRef, "
            "clientCertificate, aws",
        ),
    },
    rules=[
        v.mutually_exclusive(
            "caBundle",
            "caBundleSecretRef",
            "specified caBundle and caBundleSecretRef cannot be used together",
        ),
        v.both_or_neither("clientCertSecretRef", "clientKeySecretRef"),
    ],
)

# --- Venafi (§3.7) ---

VENAFI = Obj(
    {
        "zone": Field(Str(), required=True),
        "tpp": Field(
            Obj(
                {
                    "url": Field(Str(check=v.url), required=True),
                    "credentialsRef": Field(LOCAL_REF, required=True),
                    "caBundle": Field(Str()),
                    "caBundleSecretRef": Field(secret_key_ref()),
                },
                rules=[
                    v.at_most_one(
                        ("caBundle", "caBundleSecretRef"),
                        "may not specify more than one of caBundle/caBundleSecretRef "
                        "as TPP CA Bundle",
                    )
                ],
            )
        ),
        "cloud": Field(
            Obj(
                {
                    "url": Field(Str(check=v.url), default="https://api.venafi.cloud/"),
                    "apiTokenSecretRef": Field(secret_key_ref(), required=True),
                }
            )
        ),
        "ngts": Field(
            Obj(
                {
                    "url": Field(
                        Str(check=v.url), default="https://api.strata.paloaltonetworks.com/ngts"
                    ),
                    "tokenEndpoint": Field(
                        Str(check=v.url),
                        default="https://auth.apps.paloaltonetworks.com/oauth2/access_token",
                    ),
                    "tsgID": Field(Str(), required=True),
                    "credentialsRef": Field(LOCAL_REF, required=True),
                }
            )
        ),
    },
    rules=[
        v.exactly_one(
            ("tpp", "cloud", "ngts"),
            none="please supply one of: tpp, cloud, ngts",
            many="please supply one of: tpp, cloud, ngts",
        )
    ],
)

# --- Issuer / ClusterIssuer (§3.1) ---

ISSUER_BLOCKS: dict[str, Obj] = {
    "acme": ACME,
    "ca": CA,
    "vault": VAULT,
    "selfSigned": SELF_SIGNED,
    "venafi": VENAFI,
}

ISSUER_SPEC = Obj(
    {name: Field(block) for name, block in ISSUER_BLOCKS.items()},
    first_only=("acme", "ca", "selfSigned", "vault", "venafi"),
    rules=[
        v.exactly_one(
            ("acme", "ca", "selfSigned", "vault", "venafi"),
            none="at least one issuer must be configured",
            many="may not specify more than one issuer type",
            many_at_each=True,
        )
    ],
)

ISSUER = top_level(ISSUER_SPEC)
