"""Order the Certificates of one run so that issuers get their secrets first.

A Certificate whose issuer signs with a secret that another Certificate of the
same run produces (a CA keypair from a selfSigned bootstrap) must wait for it.
The result is a list of levels: every Certificate of a level can be issued
concurrently once the levels before it are done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from certctl.errors import ManifestError, ManifestProblem

T = TypeVar("T")

#: A secret, as (namespace, name).
SecretKey = tuple[str, str]


def order_by_secret_dependencies(
    items: Sequence[T],
    produces: Callable[[T], SecretKey],
    needs: Callable[[T], Sequence[SecretKey]],
    describe: Callable[[T], tuple[str, str]],
) -> list[list[T]]:
    """Split ``items`` into levels so that producers come before consumers.

    Args:
        items: the things to order (Certificates).
        produces: the secret an item writes.
        needs: the secrets an item's issuer reads.
        describe: (source location, name) of an item, for the cycle error.

    Raises:
        ManifestError: the items depend on each other in a cycle.
    """
    producer_of: dict[SecretKey, int] = {}
    for index, item in enumerate(items):
        producer_of.setdefault(produces(item), index)
    depends_on: list[set[int]] = []
    for index, item in enumerate(items):
        depends_on.append(
            {producer_of[key] for key in needs(item) if producer_of.get(key, index) != index}
        )
    levels: list[list[T]] = []
    done: set[int] = set()
    remaining = set(range(len(items)))
    while remaining:
        ready = sorted(i for i in remaining if depends_on[i] <= done)
        if not ready:
            problems = [
                ManifestProblem(
                    describe(items[i])[0],
                    None,
                    "spec.issuerRef",
                    f"Certificate {describe(items[i])[1]} is part of a cycle: its issuer needs a "
                    "secret that only a Certificate depending on it can produce",
                )
                for i in sorted(remaining)
            ]
            raise ManifestError(
                problems, hint="Break the cycle, for example with a selfSigned issuer"
            )
        levels.append([items[i] for i in ready])
        done.update(ready)
        remaining.difference_update(ready)
    return levels
