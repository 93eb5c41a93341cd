"""Which store a ``--store`` value selects.

Stores register by the word that selects them (``dir``, ``kubernetes``,
``manifest``), as a dotted ``"module:Class"`` path imported on first use, so that
``certctl --help`` never imports a store (or its SDK). Third-party stores come in
through the ``certctl.stores`` entry point group, looked up only for a scheme
certctl does not know.

A store class is built with ``Class.from_spec(argument)`` when it has that
classmethod, else ``Class(argument)``; ``argument`` is the text after the first
colon, or None.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certctl.errors import UsageError

if TYPE_CHECKING:
    from certctl.stores.base import SecretStore

ENTRY_POINT_GROUP = "certctl.stores"


@dataclass(frozen=True)
class StoreEntry:
    """One registered store.

    Attributes:
        target: ``"module:Class"``, or None for a store this version cannot use yet.
        forms: how to spell it on the command line, for messages.
        takes_argument: "required", "optional" or "none".
    """

    target: str | None
    forms: tuple[str, ...]
    takes_argument: str


STORES: dict[str, StoreEntry] = {
    "dir": StoreEntry("certctl.stores.directory:DirectoryStore", ("dir:PATH",), "required"),
    "kubernetes": StoreEntry("certctl.stores.kubernetes:KubernetesStore", ("kubernetes",), "none"),
    "manifest": StoreEntry(
        "certctl.stores.manifest:open_manifest_store", ("manifest", "manifest:FILE"), "optional"
    ),
}


def valid_forms() -> list[str]:
    """Return every built-in spelling of ``--store``, for help and messages."""
    return [form for entry in STORES.values() for form in entry.forms]


def open_store(spec: str, **options: Any) -> SecretStore:
    """Build the store a ``--store`` value names.

    Args:
        spec: ``dir:PATH`` (relative paths and ``~`` work), ``kubernetes``,
            ``manifest`` or ``manifest:FILE``, or a third-party ``scheme[:ARG]``.

    Raises:
        UsageError: the value names no store, lacks its argument, or names a store
            this version of certctl does not support yet.
    """
    scheme, colon, rest = spec.strip().partition(":")
    argument = rest if colon else None
    entry = STORES.get(scheme)
    if entry is None:
        factory = _load_plugin(scheme, spec)
        return _build(factory, argument, options)
    if entry.takes_argument == "required" and not argument:
        raise UsageError(
            f"--store {spec!r} needs a value after the colon, as in {entry.forms[0]}",
            hint=f"Use one of: {', '.join(valid_forms())}",
        )
    if entry.takes_argument == "none" and colon:
        raise UsageError(
            f"--store {spec!r}: the {scheme} store takes no value after a colon",
            hint=f"Use one of: {', '.join(valid_forms())}",
        )
    if entry.target is None:
        raise UsageError(
            f"The {scheme} store is not supported yet in this version of certctl; "
            "use --store dir:PATH",
            hint="Write to a folder with --store dir:PATH, for example --store dir:./certs",
        )
    return _build(_import(entry.target), argument, options)


def _build(factory: Any, argument: str | None, options: dict[str, Any]) -> SecretStore:
    """``from_spec(argument, **options)``; options reach only stores that take keywords."""
    import inspect

    from_spec = getattr(factory, "from_spec", None)
    builder = from_spec if from_spec is not None else factory
    takes_options = any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD
        for parameter in inspect.signature(builder).parameters.values()
    )
    store: SecretStore = builder(argument, **options) if takes_options else builder(argument)
    return store


def _import(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def _load_plugin(scheme: str, spec: str) -> Any:
    unknown = UsageError(
        f"--store {spec!r} is not a store certctl knows",
        hint=f"Use one of: {', '.join(valid_forms())}",
    )
    if not scheme:
        raise unknown
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == scheme:
            try:
                return entry_point.load()
            except Exception as exc:
                raise UsageError(
                    f"The {scheme} store comes from the plugin {entry_point.value}, "
                    f"which failed to load: {exc}",
                    hint="Reinstall or remove the plugin package",
                ) from exc
    raise unknown
