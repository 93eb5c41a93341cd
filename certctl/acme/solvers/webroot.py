"""``http01.webroot`` (a certctl extension): let an existing web server answer HTTP-01.

The key authorization is written to ``<path>/.well-known/acme-challenge/<token>``
under the server's document root (RFC 8555 §8.3). Folders are 0755 and files 0644
because the web server, usually another user, must read them. Files appear
atomically (temporary file, then rename), so the server never sends half a token.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from certctl.acme.solvers.base import SolverContext
from certctl.errors import IssuanceError

__all__ = ["WebrootSolver"]

log = logging.getLogger(__name__)

_DIR_MODE = 0o755
_FILE_MODE = 0o644

#: Folders certctl created (and so may remove once empty), shared by every instance:
#: two orders using one webroot must not remove a folder the other still writes into.
_CREATED: set[Path] = set()
_LOCK = threading.Lock()


class WebrootSolver:
    """``http01.webroot {path}``: write the token file under a document root.

    Args:
        config: the ``webroot`` block; ``path`` is the document root.
        context: the issuer's solver context (for messages).
    """

    #: The web server sees the file as soon as it is renamed into place.
    self_check_passes = 1

    def __init__(self, config: Mapping[str, Any], context: SolverContext) -> None:
        self.root = Path(os.path.abspath(str(config["path"])))
        self.context = context

    @property
    def challenge_dir(self) -> Path:
        return self.root / ".well-known" / "acme-challenge"

    def present(self, domain: str, token: str, key_authorization: str) -> None:
        """Write ``<path>/.well-known/acme-challenge/<token>``.

        Raises:
            IssuanceError: the document root is missing, or the file cannot be written.
        """
        target = self._token_path(token)
        if not self.root.is_dir():
            raise IssuanceError(
                f"{self.context.issuer}: the http01.webroot path {self.root} is not a folder",
                hint="set http01.webroot.path to the document root your web server serves "
                f"{domain} from",
                reason="PresentError",
            )
        with _LOCK:
            try:
                self._make_dirs()
                _write_atomically(target, key_authorization.encode("ascii"))
            except OSError as exc:
                raise IssuanceError(
                    f"{self.context.issuer}: cannot write the HTTP-01 token file {target}: "
                    f"{exc.strerror or exc}",
                    hint="run certctl as a user that may write under the webroot path",
                    reason="PresentError",
                ) from exc
        log.debug("HTTP-01: wrote %s for %s", target, domain)

    def cleanup(self, domain: str, token: str, key_authorization: str) -> None:
        """Remove the token file, and the folders ``present`` created once empty.

        Raises:
            IssuanceError: the file exists but cannot be removed.
        """
        target = self._token_path(token)
        with _LOCK:
            try:
                target.unlink(missing_ok=True)
            except OSError as exc:
                raise IssuanceError(
                    f"{self.context.issuer}: cannot remove the HTTP-01 token file {target}: "
                    f"{exc.strerror or exc}",
                    reason="CleanUpError",
                ) from exc
            for folder in (self.challenge_dir, self.challenge_dir.parent):
                if folder not in _CREATED:
                    break
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    # Not empty: another token, or the site's own files, still live there.
                    break
                _CREATED.discard(folder)
        log.debug("HTTP-01: removed %s for %s", target, domain)

    def _token_path(self, token: str) -> Path:
        # RFC 8555 §8.1: a token is base64url. Checking it keeps a hostile server from
        # writing outside the challenge folder ("../../etc/...").
        if not token or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in token):
            raise IssuanceError(
                f"The ACME server sent an HTTP-01 token that is not base64url: {token!r}",
                reason="PresentError",
            )
        return self.challenge_dir / token

    def _make_dirs(self) -> None:
        for folder in (self.challenge_dir.parent, self.challenge_dir):
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            # mkdir's mode is filtered by the umask; the web server must be able to enter.
            folder.chmod(_DIR_MODE)
            _CREATED.add(folder)


def _write_atomically(target: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(prefix=".certctl-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), _FILE_MODE)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
