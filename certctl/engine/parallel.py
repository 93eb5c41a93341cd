"""Issuing a large level of locally signed certificates on every core.

Signing with a ``selfSigned`` or ``ca`` issuer is CPU work in Python and in
``cryptography``, so threads share one core (the GIL) and pay for handing it over.
For a level of many such certificates written to the directory store, the reconciler
forks worker processes instead (up to ``--concurrency``). Each issues its share and writes the
secrets itself (the directory store's writes are atomic and safe across processes),
then returns the results; the parent records them in the state, in order of arrival,
exactly as it does for threads. A worker never touches the state database: the
parent's connection must not be used across ``fork``, so a worker's events come back
with its results.

Anything else (ACME, other stores, small levels, ``--concurrency 1``, a platform
without ``fork``) keeps the thread pool.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certctl.engine.reconcile import CertificateResult, Reconciler, _Evaluation

log = logging.getLogger("certctl")

#: Issuers whose work is local CPU work (no network, no shared account state).
LOCAL_ISSUERS = frozenset({"selfSigned", "ca"})
#: Below this many certificates per worker, forking costs more than it saves.
MIN_PER_WORKER = 64

#: What the workers inherit through fork: the reconciler and the level being issued.
_forked: tuple[Reconciler, Sequence[_Evaluation]] | None = None


def plan_workers(reconciler: Reconciler, level: Sequence[_Evaluation]) -> int:
    """How many worker processes to issue ``level`` with; 0 means use threads."""
    from certctl.stores.directory import DirectoryStore

    cores = os.cpu_count() or 1
    if cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    # Forking while another thread runs can leave a lock it held locked forever in the child.
    if threading.active_count() > 1:
        return 0
    options = reconciler.options
    if options.dry_run or options.concurrency < 2 or len(level) < 2 * MIN_PER_WORKER:
        return 0
    if type(reconciler.store) is not DirectoryStore:
        return 0
    secrets = set()
    for evaluation in level:
        certificate = evaluation.certificate
        issuer = reconciler.manifests.find_issuer(
            certificate.spec.issuer_ref, certificate.namespace
        )
        if issuer is None or issuer.spec.type not in LOCAL_ISSUERS:
            return 0
        secrets.add((certificate.namespace, certificate.spec.secret_name))
    if len(secrets) != len(level):  # two Certificates share a Secret: keep them serialized
        return 0
    # As many workers as --concurrency allows, each issuing its share one at a time: more
    # workers than cores keep the disk busy while others sign.
    return min(options.concurrency, len(level) // MIN_PER_WORKER)


def issue_in_processes(
    reconciler: Reconciler,
    level: Sequence[_Evaluation],
    workers: int,
    settle: Callable[[_Evaluation, CertificateResult, str | None], CertificateResult],
) -> Iterator[CertificateResult]:
    """Issue ``level`` in ``workers`` forked processes, yielding each settled result."""
    global _forked
    # The first one here: the workers then inherit its imports and the decoded CA keypair.
    yield settle(level[0], *reconciler._issue_one(level[0]))
    indices = list(range(1, len(level)))
    # A few chunks per worker, so results (and progress lines) come in steadily.
    chunk_count = workers * 4
    chunks = [indices[start::chunk_count] for start in range(chunk_count)]
    _forked = (reconciler, level)
    # Objects the workers inherit stay untouched by their garbage collector, so the
    # pages they share with this process are not copied.
    gc.freeze()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    settled: set[int] = set()
    try:
        futures = [pool.submit(_issue_chunk, chunk) for chunk in chunks if chunk]
        try:
            for future in as_completed(futures):
                for index, result, stamp, events in future.result():
                    for event in events:
                        reconciler.state.record_event(*event)
                    settled.add(index)
                    yield settle(level[index], result, stamp)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): what it had not reported is issued
            # here, one at a time. A secret it wrote but never reported is written once
            # more, atomically, by its own issuer: nothing of anyone else's is touched.
            log.warning("a worker process died; issuing the rest of this level in one process")
            for index in indices:
                if index not in settled:
                    yield settle(level[index], *reconciler._issue_one(level[index]))
    finally:
        # On Ctrl-C or SIGTERM the chunks being written finish; no new ones start.
        pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()
        _forked = None


class _EventCollector:
    """Stands in for the state in a worker: it keeps the events for the parent."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str, str]] = []

    def record_event(self, kind: str, key: str, type_: str, reason: str, message: str) -> None:
        self.events.append((kind, key, type_, reason, message))

    def take(self) -> list[tuple[str, str, str, str, str]]:
        events, self.events = self.events, []
        return events

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"a worker process must not use the state database ({name})")


def _issue_chunk(
    indices: Sequence[int],
) -> list[tuple[int, CertificateResult, str | None, list[tuple[str, str, str, str, str]]]]:
    """In a worker: issue the chunk's certificates (the reconciler came through fork)."""
    assert _forked is not None
    reconciler, level = _forked
    collector = _EventCollector()
    # The worker's copy of the reconciler only; the parent's keeps its database.
    reconciler.state = collector  # type: ignore[assignment]
    out = []
    for index in indices:
        result, stamp = reconciler._issue_one(level[index])
        out.append((index, result, stamp, collector.take()))
    return out
