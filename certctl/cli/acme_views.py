"""How recorded ACME Orders and Challenges are shown: ``get``, ``describe`` and ``challenge``.

Orders and Challenges come from the state history. ``acme_item`` gives them the
shape cert-manager's ``acme.cert-manager.io/v1`` resources have, for ``get -o json``
and ``describe``. This module sits below ``get.py``, ``describe.py`` and ``acme.py``,
which all show these objects, so none of them imports another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import typer

from certctl.cli.render import (
    check_output_format,
    describe_lines,
    event_lines,
    format_age,
    format_time,
    header_lines,
    list_document,
    print_data,
    print_listing,
)

if TYPE_CHECKING:
    import datetime as dt

    from certctl.cli.context import AppContext
    from certctl.errors import UsageError
    from certctl.state.database import AcmeObject, StateDatabase

ACME_API_VERSION = "acme.cert-manager.io/v1"

#: Reasons longer than this are cut in table output (``-o wide`` shows them whole).
REASON_WIDTH = 60


# -- the cert-manager shape of recorded objects -------------------------------------------------


def issuer_ref(recorded: Any) -> Any:
    """``ClusterIssuer/pebble`` (as recorded) -> cert-manager's ``issuerRef`` object."""
    if not isinstance(recorded, str) or "/" not in recorded:
        return recorded
    kind, _, name = recorded.partition("/")
    return {"group": "cert-manager.io", "kind": kind, "name": name}


def acme_item(record: AcmeObject) -> dict[str, Any]:
    """An Order or Challenge as cert-manager's API would return it."""
    spec = dict(record.body.get("spec") or {})
    status = dict(record.body.get("status") or {})
    if "issuerRef" in spec:
        spec["issuerRef"] = issuer_ref(spec["issuerRef"])
    metadata: dict[str, Any] = {
        "name": record.name,
        "namespace": record.namespace,
        "creationTimestamp": format_time(record.created),
    }
    # certctl records the Order a Challenge belongs to; cert-manager says it with an owner.
    order = spec.pop("order", None)
    if order:
        metadata["ownerReferences"] = [
            {"apiVersion": ACME_API_VERSION, "kind": "Order", "name": order}
        ]
    return {
        "apiVersion": ACME_API_VERSION,
        "kind": record.kind,
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


#: kubectl describe writes these words in capitals (its smartLabelFor acronyms).
_ACRONYMS = {"url": "URL", "uid": "UID", "api": "API"}


def describe_data(data: Any) -> Any:
    """Rename keys so ``describe_lines`` titles them as kubectl does (``url`` -> ``URL``)."""
    if isinstance(data, Mapping):
        return {_ACRONYMS.get(str(key), key): describe_data(value) for key, value in data.items()}
    if isinstance(data, list):
        return [describe_data(value) for value in data]
    return data


def not_found(kind: str, name: str, namespace: str | None) -> UsageError:
    from certctl.errors import UsageError

    where = f" in namespace {namespace}" if namespace else ""
    plural = f"{kind.lower()}s"
    return UsageError(
        f'{kind.lower()} "{name}" not found{where} in the state history',
        hint=f"Run certctl get {plural} -A to list the recorded {plural} of every namespace",
    )


def find_acme_object(state: StateDatabase, kind: str, name: str, namespace: str) -> AcmeObject:
    """The recorded Order or Challenge, or a UsageError (exit 2) naming where to look."""
    record = state.get_acme_object(kind, namespace, name)
    if record is None:
        raise not_found(kind, name, namespace)
    return record


# -- get orders|challenges, challenge list -------------------------------------------------------


def list_acme(
    application: AppContext,
    kind: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    output: str,
) -> None:
    """``get orders|challenges``: the columns of cert-manager's CRDs, from the state."""
    check_output_format(output)
    records = application.state.acme_objects(kind, None if all_namespaces else namespace)
    if name is not None:
        records = [record for record in records if record.name == name]
        if not records:
            raise not_found(kind, name, None if all_namespaces else namespace)
    if output in ("json", "yaml"):
        print_data(list_document([acme_item(record) for record in records]), output)
        return
    now = application.clock.now()
    wide = output == "wide"
    if kind == "Order":
        headers = ["NAME", "STATE", *(["ISSUER", "REASON"] if wide else []), "AGE"]
        rows = [_order_row(record, now, wide) for record in records]
    else:
        headers = ["NAME", "STATE", "DOMAIN", "TYPE", "REASON", "AGE"]
        rows = [_challenge_row(record, now, wide) for record in records]
    print_listing(headers, rows, records, all_namespaces, lambda r: r.namespace, namespace)


def _order_row(record: AcmeObject, now: dt.datetime, wide: bool) -> list[str]:
    spec = record.body.get("spec") or {}
    status = record.body.get("status") or {}
    row = [record.name, record.state or "<none>"]
    if wide:
        row.extend([str(spec.get("issuerRef") or "<none>"), _cell(status.get("reason"))])
    row.append(format_age(now - record.created))
    return row


def _challenge_row(record: AcmeObject, now: dt.datetime, wide: bool) -> list[str]:
    spec = record.body.get("spec") or {}
    status = record.body.get("status") or {}
    domain = str(spec.get("dnsName") or "<none>")
    if spec.get("wildcard"):
        domain = f"*.{domain}"
    reason = _cell(status.get("reason"))
    if not wide and len(reason) > REASON_WIDTH:
        reason = reason[: REASON_WIDTH - 1].rstrip() + "…"
    return [
        record.name,
        record.state or "<none>",
        domain,
        str(spec.get("type") or "<none>"),
        reason,
        format_age(now - record.created),
    ]


def _cell(value: Any) -> str:
    """One table cell: on one line, ``<none>`` when empty."""
    text = " ".join(str(value or "").split())
    return text or "<none>"


# -- describe order|challenge, challenge describe ------------------------------------------------


def describe_acme(application: AppContext, kind: str, name: str, namespace: str) -> None:
    """The ``kubectl describe challenge|order`` view of a recorded Order or Challenge."""
    record = find_acme_object(application.state, kind, name, namespace)
    item = acme_item(record)
    lines = header_lines(
        record.name,
        record.namespace,
        {},
        kind,
        api_version=ACME_API_VERSION,
        extra=[("Certificate:", record.certificate)],
    )
    metadata = {
        key: value for key, value in item["metadata"].items() if key not in ("name", "namespace")
    }
    lines.append("Metadata:")
    lines.extend(describe_lines(describe_data(metadata), 1))
    lines.append("Spec:")
    lines.extend(describe_lines(describe_data(item["spec"]), 1))
    lines.append("Status:")
    lines.extend(describe_lines(describe_data(item["status"]), 1))
    events = application.state.events(kind, f"{record.namespace}/{record.name}")
    lines.extend(event_lines(events, application.clock.now()))
    typer.echo("\n".join(lines))
