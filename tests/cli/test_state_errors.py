"""A state dir certctl cannot use says what is wrong with it (exit 3, one paragraph).

A full disk says "no space left", a read-only folder says it is read-only, and a
state dir that is a file says so; none of them suggests moving the database away,
which is only the advice for a damaged file. The disks are real: small tmpfs mounts
made by the tests (they run as root) and removed in ``finally``.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from typer.testing import Result

from tests.cli.conftest import Cli, describe


def mount_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is missing: install it with `apt-get install util-linux`")
    return path


@contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``folder`` for the block; a failure to mount fails the test."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        [mount_tool("mount"), "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise AssertionError(
            f"could not mount a tmpfs at {folder} ({mounted.stderr.strip()}); these tests "
            "need root (or CAP_SYS_ADMIN) to mount a small disk"
        )
    try:
        yield folder
    finally:
        subprocess.run([mount_tool("umount"), "-l", str(folder)], check=False)


def remount_read_only(folder: Path) -> None:
    subprocess.run(
        [mount_tool("mount"), "-o", "remount,ro", str(folder)], check=True, capture_output=True
    )


def fill(folder: Path) -> None:
    """Write into ``folder`` until the disk is full."""
    descriptor = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(descriptor)


def issue(cli: Cli, state_dir: Path) -> Result:
    path = cli.quickstart()
    return cli.run(
        "issue",
        "-f",
        path,
        global_args=["--store", f"dir:{cli.store}", "--state-dir", str(state_dir)],
    )


def assert_state_error(result: Result, *words: str) -> None:
    assert result.exit_code == 3, describe(result)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    assert "move it away" not in errors[0]
    assert "damaged" not in errors[0]


def test_a_full_disk_says_no_space_left(cli: Cli) -> None:
    with tmpfs(cli.root / "disk", "size=64k") as disk:
        fill(disk)

        result = issue(cli, disk / "state")

    assert_state_error(result, "no space left", str(disk))
    assert not (cli.store / "default").exists(), "nothing is issued without a state"


def test_an_existing_database_on_a_disk_that_filled_up_says_no_space_left(cli: Cli) -> None:
    with tmpfs(cli.root / "disk", "size=1m") as disk:
        first = issue(cli, disk / "state")
        assert first.exit_code == 0, describe(first)
        fill(disk)

        result = cli.run(
            "issue",
            "-f",
            cli.root / "quickstart",
            "--force",
            global_args=["--store", f"dir:{cli.store}", "--state-dir", str(disk / "state")],
        )

    assert_state_error(result, "no space left")


def test_a_state_dir_on_a_read_only_mount_says_so(cli: Cli) -> None:
    with tmpfs(cli.root / "disk", "ro,size=64k") as disk:
        result = issue(cli, disk / "state")

    assert_state_error(result, "read-only file system", str(disk))


def test_an_existing_database_on_a_read_only_mount_says_so(cli: Cli) -> None:
    with tmpfs(cli.root / "disk", "size=1m") as disk:
        first = issue(cli, disk / "state")
        assert first.exit_code == 0, describe(first)
        remount_read_only(disk)

        result = cli.run(
            "describe",
            "certificate",
            "api-backend",
            "-f",
            cli.root / "quickstart",
            global_args=["--store", f"dir:{cli.store}", "--state-dir", str(disk / "state")],
        )

    assert_state_error(result, "read-only file system")


def test_a_state_dir_that_is_a_file_says_so(cli: Cli) -> None:
    blocker = cli.root / "state-file"
    blocker.write_text("")

    result = issue(cli, blocker)

    assert_state_error(result, f"{blocker} is a file, not a folder")


def test_a_state_dir_below_a_file_says_which_file(cli: Cli) -> None:
    blocker = cli.root / "state-file"
    blocker.write_text("")

    result = issue(cli, blocker / "certctl")

    assert_state_error(result, f"{blocker} is a file, not a folder")


def test_a_read_only_state_folder_says_so_for_a_user_without_override(cli: Cli) -> None:
    # Root writes anywhere; run the installed certctl without that privilege instead.
    setpriv = mount_tool("setpriv")
    certctl = shutil.which("certctl")
    if certctl is None:
        raise AssertionError("the certctl entry point is not installed: run `pip install -e .`")
    path = cli.quickstart()
    cli.state.mkdir()
    cli.state.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = subprocess.run(
            [
                setpriv,
                "--bounding-set",
                "-dac_override,-dac_read_search",
                certctl,
                "--store",
                f"dir:{cli.store}",
                "--state-dir",
                str(cli.state),
                "issue",
                "-f",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ},
        )
    finally:
        cli.state.chmod(stat.S_IRWXU)

    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert f"the folder {cli.state} is read-only for certctl's user" in result.stderr
    assert "move it away" not in result.stderr
    assert list(cli.state.iterdir()) == []
