"""The deployment examples stay in step with the CLI they run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from certctl.cli.main import app

REPO = Path(__file__).resolve().parents[2]
DEPLOY_YAML = sorted((REPO / "deploy").rglob("*.yaml"))


@pytest.mark.parametrize("path", DEPLOY_YAML, ids=lambda path: str(path.relative_to(REPO)))
def test_every_deploy_file_is_valid_yaml(path: Path) -> None:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert documents, f"{path} is empty"
    assert all("apiVersion" in doc and "kind" in doc for doc in documents)


def test_the_cronjob_runs_options_certctl_accepts() -> None:
    cronjob = yaml.safe_load((REPO / "deploy" / "base" / "cronjob.yaml").read_text())
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    command = args.index("sync")
    global_options, sync_options = args[:command], args[command + 1 :]
    runner = CliRunner()

    parsed = runner.invoke(app, [*global_options, "sync", "--help"])
    sync_help = runner.invoke(app, ["sync", "--help"]).stdout

    assert parsed.exit_code == 0, parsed.stderr
    for option in sync_options:
        if option.startswith("-"):
            assert option in sync_help, f"sync has no option {option}"


@pytest.mark.parametrize("overlay", ["staging", "production"])
def test_each_overlay_validates_with_the_base_certificates(overlay: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "validate",
            "-f",
            str(REPO / "deploy" / "overlays" / overlay / "issuers.yaml"),
            "-f",
            str(REPO / "deploy" / "base" / "manifests" / "certificates.yaml"),
        ],
    )
    assert result.exit_code == 0, result.stderr
