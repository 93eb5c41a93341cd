"""Choosing the ``spec.acme.solvers[]`` entry for one authorization.

This mirrors cert-manager's solver picker (``pkg/util/solverpicker``) so that a
manifest picks the same solver here as in a cluster:

* only entries whose type the authorization offers are candidates (``http01`` for
  ``http-01``, ``dns01`` for ``dns-01``);
* for a wildcard authorization the name matched is ``*.<identifier>``;
* a selector matches only if all of its parts match (``matchLabels`` against the
  Certificate's labels, ``dnsNames`` exactly, ``dnsZones`` as the name or a parent);
* among matches, a ``dnsNames`` hit beats none, then the most specific zone wins,
  then the most ``matchLabels``; ties go to the entry listed first. An entry without
  a selector is used only when nothing else matched.

Everything here is pure: data in, data out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CHALLENGE_TYPES", "SolverChoice", "describe_no_solver", "pick_solver"]

#: The solver block that answers each ACME challenge type (RFC 8555 §8.3, §8.4).
CHALLENGE_TYPES: Mapping[str, str] = {"http01": "http-01", "dns01": "dns-01"}


@dataclass(frozen=True)
class SolverChoice:
    """The solver picked for one authorization.

    Attributes:
        index: the entry's position in ``spec.acme.solvers``.
        solver: the ``solvers[]`` entry itself.
        challenge_type: the ACME challenge it answers, ``http-01`` or ``dns-01``.
    """

    index: int
    solver: Mapping[str, Any]
    challenge_type: str


@dataclass(frozen=True)
class _Match:
    """How one selector fares against one name.

    ``score`` orders matches as cert-manager does: a dnsNames hit (counted once, however
    many names are listed), then the labels of the most specific matching zone, then
    the number of matchLabels.
    """

    matched: bool
    score: tuple[int, int, int]
    misses: tuple[str, ...]
    #: Only matchLabels stand in the way, and the labels were not given.
    labels_unknown: bool = False


def pick_solver(
    solvers: Sequence[Mapping[str, Any]],
    *,
    domain: str,
    wildcard: bool,
    offered_types: Collection[str],
    labels: Mapping[str, str],
) -> SolverChoice | None:
    """Pick the solver cert-manager would pick for one authorization.

    Args:
        solvers: ``spec.acme.solvers`` of the issuer.
        domain: the authorization's identifier, without ``*.`` even for a wildcard.
        wildcard: whether the authorization is for ``*.<domain>``.
        offered_types: the challenge types the authorization offers (``http-01``, ...).
        labels: the Certificate's labels (cert-manager matches the Order's, which are
            copied from it).

    Returns:
        The chosen entry, or None when no entry can be used.
    """
    name = _name_to_match(domain, wildcard)
    best: SolverChoice | None = None
    best_score = (0, 0, 0)
    for index, solver in enumerate(solvers):
        kind = _solver_kind(solver)
        if kind is None or CHALLENGE_TYPES[kind] not in offered_types:
            continue
        selector = solver.get("selector")
        if selector is None:
            # No selector: a match-all with the lowest priority, so it is only taken
            # when nothing was taken before; a later selector with any score beats it.
            if best is None:
                best = SolverChoice(index, solver, CHALLENGE_TYPES[kind])
            continue
        match = _match_selector(selector, name, labels)
        if not match.matched:
            continue
        # Strictly greater: on a tie the earlier entry stays, as in cert-manager.
        if best is None or match.score > best_score:
            best = SolverChoice(index, solver, CHALLENGE_TYPES[kind])
            best_score = match.score
    return best


def describe_no_solver(
    domain: str,
    wildcard: bool,
    solvers: Sequence[Mapping[str, Any]],
    offered_types: Collection[str],
    *,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Say in one sentence why :func:`pick_solver` found nothing, and what to change.

    Args:
        domain: the authorization's identifier, without ``*.``.
        wildcard: whether the authorization is for ``*.<domain>``.
        solvers: ``spec.acme.solvers`` of the issuer.
        offered_types: the challenge types the authorization offers.
        labels: the Certificate's labels; when not given, ``matchLabels`` are named as
            requirements instead of judged.
    """
    name = _name_to_match(domain, wildcard)
    offered = ", ".join(sorted(offered_types)) or "no challenge types"
    if not solvers:
        return (
            f"No solver can validate {name}: the issuer has no spec.acme.solvers "
            f"(the ACME server offered {offered}); add an http01 or dns01 solver"
        )

    if wildcard and not _any_dns01_fits(solvers, name, labels):
        dns01 = [(i, s) for i, s in enumerate(solvers) if _solver_kind(s) == "dns01"]
        problem = (
            "no dns01 solver of this issuer matches it"
            if dns01
            else ("this issuer has no dns01 solver")
        )
        sentence = (
            f"{name} is a wildcard, and wildcard names can only be validated with DNS-01, "
            f"but {problem}: add a dns01 solver (its selector must match {name})"
        )
        if dns01:
            why = "; ".join(_why_not(i, s, name, labels, offered_types) for i, s in dns01)
            sentence = f"{sentence}; {why}"
        return sentence

    reasons = "; ".join(_why_not(i, s, name, labels, offered_types) for i, s in enumerate(solvers))
    return (
        f"No solver of this issuer can validate {name} (the ACME server offered {offered}): "
        f"{reasons}"
    )


def _name_to_match(domain: str, wildcard: bool) -> str:
    # cert-manager's Order controller prefixes "*." for wildcard authorizations
    # (RFC 8555 §7.1.3: the identifier itself never carries the wildcard).
    return f"*.{domain}" if wildcard else domain


def _solver_kind(solver: Mapping[str, Any]) -> str | None:
    for kind in CHALLENGE_TYPES:
        if isinstance(solver.get(kind), Mapping):
            return kind
    return None


def _labels_of(name: str) -> list[str]:
    # Case-insensitive and indifferent to a trailing dot, like miekg/dns's
    # CompareDomainName that cert-manager's dnsZones selector uses.
    return [label for label in name.lower().rstrip(".").split(".") if label]


def _zone_labels_matched(zone: str, name: str) -> int:
    """The zone's label count if it is ``name`` or a parent of it, else 0."""
    zone_labels = _labels_of(zone)
    name_labels = _labels_of(name)
    if not zone_labels or len(zone_labels) > len(name_labels):
        return 0
    return len(zone_labels) if name_labels[-len(zone_labels) :] == zone_labels else 0


def _match_selector(
    selector: Mapping[str, Any], name: str, labels: Mapping[str, str] | None
) -> _Match:
    """Match one selector; ``labels=None`` means "unknown" (only for messages)."""
    misses: list[str] = []
    labels_unknown = False

    match_labels: Mapping[str, str] = selector.get("matchLabels") or {}
    wanted = _labels_text(selector)
    label_count = 0
    if match_labels:
        if labels is None:
            labels_unknown = True
        elif all(labels.get(key) == value for key, value in match_labels.items()):
            label_count = len(match_labels)
        else:
            misses.append(f"the Certificate's labels do not include all of {wanted}")

    dns_names: Sequence[str] = selector.get("dnsNames") or []
    names_hit = 0
    if dns_names:
        # An exact comparison: "*.example.com" must be listed literally for a wildcard.
        if name in dns_names:
            names_hit = 1
        else:
            misses.append(f"dnsNames [{', '.join(dns_names)}] does not list {name}")

    dns_zones: Sequence[str] = selector.get("dnsZones") or []
    zone_count = 0
    if dns_zones:
        zone_count = max(_zone_labels_matched(zone, name) for zone in dns_zones)
        if not zone_count:
            misses.append(f"dnsZones [{', '.join(dns_zones)}] has no zone containing {name}")

    if labels_unknown and misses:
        misses.insert(0, f"it needs the labels {wanted}")
    matched = not misses and not labels_unknown
    return _Match(matched, (names_hit, zone_count, label_count), tuple(misses), labels_unknown)


def _any_dns01_fits(
    solvers: Sequence[Mapping[str, Any]], name: str, labels: Mapping[str, str] | None
) -> bool:
    for solver in solvers:
        if _solver_kind(solver) != "dns01":
            continue
        selector = solver.get("selector")
        if selector is None:
            return True
        match = _match_selector(selector, name, labels)
        # With unknown labels, a selector that misses on nothing else may still fit.
        if match.matched or (match.labels_unknown and not match.misses):
            return True
    return False


def _why_not(
    index: int,
    solver: Mapping[str, Any],
    name: str,
    labels: Mapping[str, str] | None,
    offered_types: Collection[str],
) -> str:
    kind = _solver_kind(solver)
    where = f"solvers[{index}]"
    if kind is None:
        return f"{where} has neither an http01 nor a dns01 block"
    where = f"{where} ({_solver_key(solver, kind)})"
    if CHALLENGE_TYPES[kind] not in offered_types:
        return f"{where} answers {CHALLENGE_TYPES[kind]}, which was not offered"
    selector = solver.get("selector")
    if selector is None:
        return f"{where} has no selector and would match"
    match = _match_selector(selector, name, labels)
    if match.matched:
        return f"{where} matches"
    if not match.misses:
        return f"{where} matches only a Certificate with the labels {_labels_text(selector)}"
    return f"{where}: {', and '.join(match.misses)}"


def _labels_text(selector: Mapping[str, Any]) -> str:
    match_labels: Mapping[str, str] = selector.get("matchLabels") or {}
    return ", ".join(f"{key}={value}" for key, value in match_labels.items())


def _solver_key(solver: Mapping[str, Any], kind: str) -> str:
    block = solver[kind]
    for name, value in block.items():
        if isinstance(value, Mapping):
            return f"{kind}.{name}"
    return kind
