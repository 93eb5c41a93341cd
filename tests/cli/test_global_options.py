"""Global options (before the subcommand), their CERTCTL_* variables, and infrastructure errors."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import Result

from certctl import __version__
from certctl.stores.directory import DirectoryStore
from tests.cli.conftest import SELFSIGNED, Cli, certificate, describe
from tests.entrypoint import certctl_binary


def simple_set(cli: Cli) -> Path:
    return cli.manifest("web.yaml", SELFSIGNED, certificate("web"))


def test_version(cli: Cli) -> None:
    result = cli.run("--version", global_args=[])

    assert result.exit_code == 0, describe(result)
    assert result.stdout == f"certctl {__version__}\n"


def test_environment_variables_stand_in_for_the_flags(cli: Cli) -> None:
    path = simple_set(cli)
    store = cli.root / "env-certs"
    state = cli.root / "env-state"
    env = {"CERTCTL_STORE": f"dir:{store}", "CERTCTL_STATE_DIR": str(state)}

    result = cli.run("issue", "-f", path, env=env, global_args=[])
    described = cli.run("describe", "certificate", "web", "-f", path, env=env, global_args=[])

    assert result.exit_code == 0, describe(result)
    assert (store / "default" / "web-tls" / "tls.crt").is_file()
    assert (state / "state.db").is_file()
    assert not cli.store.exists()
    assert not cli.state.exists()
    assert "successfully issued" in described.stdout


def test_a_flag_wins_over_its_environment_variable(cli: Cli) -> None:
    path = simple_set(cli)
    env = {"CERTCTL_STORE": f"dir:{cli.root / 'env-certs'}"}

    result = cli.run("issue", "-f", path, env=env)

    assert result.exit_code == 0, describe(result)
    assert (cli.secret("default", "web-tls") / "tls.crt").is_file()
    assert not (cli.root / "env-certs").exists()


def test_log_format_json_makes_every_stderr_line_a_json_object(cli: Cli) -> None:
    path = cli.quickstart()

    result = cli.run("--log-format", "json", "issue", "-f", path, global_args=cli.global_args())

    assert result.exit_code == 0, describe(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) for record in records)
    assert all({"time", "level", "msg"} <= set(record) for record in records)
    assert any("default/api-backend: Issued" in record["msg"] for record in records)
    assert records[-1]["msg"].startswith("issue: 2 certificates: 2 issued")
    assert "NAMESPACE" in result.stdout


def test_log_format_json_renders_errors_as_json_too(cli: Cli) -> None:
    result = cli.run("--log-format", "json", "issue", global_args=cli.global_args())

    assert result.exit_code == 2, describe(result)
    [record] = [json.loads(line) for line in result.stderr.splitlines()]
    assert record["level"] == "error"
    assert "No manifests given" in record["msg"]


def test_debug_adds_the_traceback_to_an_error(cli: Cli) -> None:
    missing = cli.root / "missing.yaml"

    plain = cli.run("issue", "-f", missing)
    debug = cli.run("--debug", "issue", "-f", missing, global_args=cli.global_args())

    assert plain.exit_code == debug.exit_code == 2, describe(debug)
    assert "Traceback" not in plain.stderr
    assert "missing.yaml" in debug.stderr
    assert "Traceback (most recent call last)" in debug.stderr


def test_an_invalid_log_format_exits_2(cli: Cli) -> None:
    result = cli.run("--log-format", "xml", "issue", "-f", simple_set(cli))

    assert result.exit_code == 2, describe(result)
    assert "--log-format" in result.stderr
    assert not cli.store.exists()


@pytest.mark.parametrize("command", ["issue", "renew"])
def test_quiet_silences_stderr_on_success(cli: Cli, command: str) -> None:
    path = simple_set(cli)

    result = cli.run("-q", command, "-f", path, global_args=cli.global_args())

    assert result.exit_code == 0, describe(result)
    assert result.stderr == ""
    assert (cli.secret("default", "web-tls") / "tls.crt").is_file()


def test_quiet_still_shows_a_failure(cli: Cli) -> None:
    path = cli.manifest("orphan.yaml", certificate("web", issuer="nowhere"))

    result = cli.run("-q", "issue", "-f", path, global_args=cli.global_args())

    assert result.exit_code == 1, describe(result)
    assert "nowhere" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["issue", "-o", "xml"], id="issue -o xml"),
        pytest.param(["renew", "-o", "csv"], id="renew -o csv"),
        pytest.param(["get", "certificates", "-o", "name"], id="get certificates -o name"),
        pytest.param(
            ["get", "clusterissuers", "-o", "jsonpath"], id="get clusterissuers -o jsonpath"
        ),
        pytest.param(["validate", "-o", "wide"], id="validate -o wide"),
    ],
)
def test_an_invalid_output_format_exits_2(cli: Cli, args: list[str]) -> None:
    path = simple_set(cli)

    result = cli.run(*args, "-f", path)

    assert result.exit_code == 2, describe(result)
    assert "is not an output format" in result.stderr
    assert result.stdout == ""
    assert not cli.store.exists()


@pytest.mark.parametrize("value", ["banana", "10", "5 minutes"])
def test_a_bad_lock_timeout_exits_2(cli: Cli, value: str) -> None:
    path = simple_set(cli)

    result = cli.run("--lock-timeout", value, "issue", "-f", path, global_args=cli.global_args())

    assert result.exit_code == 2, describe(result)
    assert "--lock-timeout" in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.secret("default", "web-tls").exists()


def test_a_held_lock_exits_3_naming_the_holder(cli: Cli) -> None:
    path = simple_set(cli)

    with DirectoryStore(cli.store).lock(dt.timedelta(0)):
        result = cli.run("issue", "-f", path)

    assert result.exit_code == 3, describe(result)
    assert f"pid {os.getpid()}" in result.stderr
    assert "holds the lock" in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.secret("default", "web-tls").exists()


def test_a_held_lock_is_waited_for_up_to_the_lock_timeout(cli: Cli) -> None:
    path = simple_set(cli)

    with DirectoryStore(cli.store).lock(dt.timedelta(0)):
        result = cli.run(
            "--lock-timeout", "200ms", "issue", "-f", path, global_args=cli.global_args()
        )

    assert result.exit_code == 3, describe(result)
    assert "after waiting" in result.stderr


def test_dry_run_does_not_need_the_lock(cli: Cli) -> None:
    path = simple_set(cli)

    with DirectoryStore(cli.store).lock(dt.timedelta(0)):
        result = cli.run("issue", "-f", path, "--dry-run")

    assert result.exit_code == 0, describe(result)
    assert "WouldIssue" in result.stdout


@pytest.mark.parametrize(
    ("store", "message"),
    [
        pytest.param(
            "kubernetes",
            "could not load a Kubernetes configuration",
            id="kubernetes with no kubeconfig and outside a cluster",
        ),
        pytest.param("dir:", "needs a value after the colon", id="dir without a path"),
        pytest.param("s3:bucket", "is not a store certctl knows", id="an unknown scheme"),
    ],
)
def test_an_unusable_store_exits_2(cli: Cli, store: str, message: str) -> None:
    path = simple_set(cli)

    result = cli.run(
        "--store", store, "--state-dir", str(cli.state), "issue", "-f", path, global_args=[]
    )

    assert result.exit_code == 2, describe(result)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def assert_one_paragraph_infrastructure_error(result: Result) -> None:
    assert result.exit_code == 3, describe(result)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr


def test_a_store_path_that_is_a_file_exits_3(cli: Cli) -> None:
    path = simple_set(cli)
    blocker = cli.root / "not-a-folder"
    blocker.write_text("")

    result = cli.run(
        "--store",
        f"dir:{blocker}",
        "--state-dir",
        str(cli.state),
        "issue",
        "-f",
        path,
        global_args=[],
    )

    assert_one_paragraph_infrastructure_error(result)
    assert str(blocker) in result.stderr
    assert blocker.read_text() == ""


def test_a_store_path_below_a_file_exits_3(cli: Cli) -> None:
    path = simple_set(cli)
    blocker = cli.root / "not-a-folder"
    blocker.write_text("")

    result = cli.run(
        "--store",
        f"dir:{blocker}/certs",
        "--state-dir",
        str(cli.state),
        "issue",
        "-f",
        path,
        global_args=[],
    )

    assert_one_paragraph_infrastructure_error(result)
    assert "Not a directory" in result.stderr


def permissions_are_enforced(folder: Path) -> bool:
    """False when this user (root with CAP_DAC_OVERRIDE) can write into a 0500 folder."""
    probe = folder / "probe"
    probe.mkdir()
    probe.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        (probe / "x").mkdir()
    except PermissionError:
        return True
    finally:
        probe.chmod(stat.S_IRWXU)
    return False


def test_a_read_only_namespace_folder_exits_3(cli: Cli) -> None:
    # Root writes anywhere; run the installed certctl without that override instead.
    prefix: list[str] = []
    if not permissions_are_enforced(cli.root):
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("setpriv is missing: install it with `apt-get install util-linux`")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    certctl = certctl_binary()
    path = simple_set(cli)
    namespace = cli.store / "default"
    namespace.mkdir(parents=True)
    namespace.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = subprocess.run(
            [
                *prefix,
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
        )
    finally:
        namespace.chmod(stat.S_IRWXU)

    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "Permission denied" in result.stderr
    assert list(namespace.iterdir()) == []


def test_an_unwritable_state_dir_exits_3(cli: Cli) -> None:
    path = simple_set(cli)
    blocker = cli.root / "state-file"
    blocker.write_text("")

    result = cli.run(
        "--store",
        f"dir:{cli.store}",
        "--state-dir",
        str(blocker),
        "issue",
        "-f",
        path,
        global_args=[],
    )

    assert_one_paragraph_infrastructure_error(result)
    assert not cli.secret("default", "web-tls").exists()


def test_concurrency_must_be_positive(cli: Cli) -> None:
    result = cli.run(
        "--concurrency", "0", "issue", "-f", simple_set(cli), global_args=cli.global_args()
    )

    assert result.exit_code == 2, describe(result)
    assert "--concurrency" in result.stderr


def test_cluster_resource_namespace_moves_clusterissuer_secrets(cli: Cli) -> None:
    path = cli.quickstart()
    # The root CA Certificate names its namespace, so move it along with the option.
    root_ca = path / "01-root-ca.yaml"
    root_ca.write_text(root_ca.read_text().replace("namespace: cert-manager", "namespace: pki"))

    result = cli.run(
        "--cluster-resource-namespace", "pki", "issue", "-f", path, global_args=cli.global_args()
    )

    assert result.exit_code == 0, describe(result)
    assert (cli.secret("pki", "root-ca-secret") / "tls.crt").is_file()
    assert (cli.secret("default", "api-backend-tls") / "tls.crt").is_file()
    assert not (cli.store / "cert-manager").exists()
