"""``certctl validate``: the quick start passes, every malformed corpus file fails with exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import CORPUS, SELFSIGNED, Cli, certificate, describe, issuer

HEADER = b"# expect: "


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml"))


def expectation(path: Path) -> str:
    # Read bytes: some corpus files are binary or not UTF-8 past their first line.
    first_line = path.read_bytes().split(b"\n", 1)[0]
    assert first_line.startswith(HEADER), f"{path.name} must start with '# expect: ...'"
    return first_line[len(HEADER) :].decode("utf-8").strip()


def test_the_quickstart_is_valid(cli: Cli) -> None:
    path = cli.quickstart()

    result = cli.run("validate", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert result.stdout.strip() == "Valid: 2 Certificates, 0 Issuers, 2 ClusterIssuers."
    assert result.stderr == ""
    assert not cli.store.exists()


def test_validate_json_lists_what_it_found(cli: Cli) -> None:
    path = cli.quickstart()

    result = cli.run("validate", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result)
    document = json.loads(result.stdout)
    assert document["valid"] is True
    assert sorted(document["certificates"]) == ["cert-manager/root-ca", "default/api-backend"]
    assert len(document["issuers"]) == 2
    assert document["warnings"] == []


def test_the_corpus_is_not_empty() -> None:
    assert len(corpus_files()) >= 30


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.stem.replace("-", " "))
def test_a_malformed_manifest_exits_2_and_names_the_file_and_problem(cli: Cli, path: Path) -> None:
    result = cli.run("validate", "-f", path)

    assert result.exit_code == 2, describe(result)
    assert path.name in result.stderr
    assert expectation(path) in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not cli.store.exists()


def test_issue_with_a_malformed_manifest_changes_nothing(cli: Cli) -> None:
    good = cli.manifest("good.yaml", SELFSIGNED, certificate("web"))
    bad = CORPUS / "unknown-field-suggestion.yaml"

    result = cli.run("issue", "-f", good, "-f", bad)

    assert result.exit_code == 2, describe(result)
    assert "did you mean 'dnsNames'" in result.stderr
    assert "nothing was changed" in result.stderr
    assert not cli.secret("default", "web-tls").exists()


def test_validate_reads_stdin(cli: Cli) -> None:
    text = yaml.safe_dump_all([SELFSIGNED, certificate("web")])

    result = cli.run("validate", "-f", "-", input=text)

    assert result.exit_code == 0, describe(result)
    assert "Valid: 1 Certificate, 0 Issuers, 1 ClusterIssuer." in result.stdout


def test_a_malformed_manifest_on_stdin_exits_2(cli: Cli) -> None:
    text = (CORPUS / "unknown-field-suggestion.yaml").read_text()

    result = cli.run("validate", "-f", "-", input=text)

    assert result.exit_code == 2, describe(result)
    assert "did you mean 'dnsNames'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_issuer_is_a_warning_not_an_error(cli: Cli) -> None:
    path = cli.manifest("orphan.yaml", certificate("web", issuer="nowhere"))

    result = cli.run("validate", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert "Valid: 1 Certificate, 0 Issuers, 0 ClusterIssuers." in result.stdout
    assert "Warning:" in result.stderr
    assert "default/web" in result.stderr
    assert "nowhere" in result.stderr
    assert "orphan.yaml" in result.stderr
    assert "Warning" not in result.stdout


def test_validate_without_files_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("validate")

    assert result.exit_code == 2, describe(result)
    assert "No manifests given" in result.stderr
    assert "-f" in result.stderr


def test_other_kinds_are_counted_as_ignored(cli: Cli) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    path = cli.manifest("mixed.yaml", SELFSIGNED, certificate("web"), config_map)

    result = cli.run("validate", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert "ignored: 1 ConfigMap" in result.stdout


def test_manifest_text_in_messages_cannot_drive_the_terminal(cli: Cli) -> None:
    document = certificate("web", usages=["\x1b[2Jserver auth"])
    document["metadata"]["name"] = "web\x1b[2J"
    document["spec"]["\x1b[31mcolour"] = "x"
    path = cli.manifest("escape.yaml", SELFSIGNED, document)

    result = cli.run("validate", "-f", path)

    assert result.exit_code == 2, describe(result)
    assert "\x1b" not in result.output
    assert 'metadata.name: Invalid value: "web\\x1b[2J"' in result.stderr
    assert 'spec.usages[0]: Invalid value: "\\x1b[2Jserver auth": unknown keyusage' in result.stderr
    assert 'spec.\\x1b[31mcolour: unknown field "\\x1b[31mcolour"' in result.stderr


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (the lock file aside) with its bytes, for before/after."""
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != ".certctl.lock"
    }


BAD_SECRET_NAMES = [
    pytest.param(
        [issuer("ca", {"ca": {"secretName": "Root_CA"}}), certificate("leaf", issuer="ca")],
        "spec.ca.secretName",
        "Root_CA",
        id="a ca issuer secret",
    ),
    pytest.param(
        [
            certificate(
                "leaf",
                keystores={"pkcs12": {"create": True, "passwordSecretRef": {"name": "P12_pw"}}},
            )
        ],
        "spec.keystores.pkcs12.passwordSecretRef.name",
        "P12_pw",
        id="a keystore password secret",
    ),
]


@pytest.mark.parametrize(("documents", "field", "bad_value"), BAD_SECRET_NAMES)
def test_an_impossible_secret_name_fails_validate_and_issue_before_anything_is_written(
    cli: Cli, documents: list[dict[str, Any]], field: str, bad_value: str
) -> None:
    # The first Certificate is fine and comes first: it must not be written either.
    path = cli.manifest("set.yaml", SELFSIGNED, certificate("first"), *documents)
    rows = path.read_text().splitlines()
    line = 1 + next(index for index, row in enumerate(rows) if bad_value in row)

    checked = cli.run("validate", "-f", path)
    issued = cli.run("issue", "-f", path)

    assert checked.exit_code == 2, describe(checked)
    assert f"set.yaml:{line}: {field}: Invalid value" in checked.stderr
    assert issued.exit_code == 2, describe(issued)
    assert f"set.yaml:{line}: {field}: Invalid value" in issued.stderr
    assert "nothing was changed" in issued.stderr
    assert files_under(cli.store) == {}


def test_an_impossible_secret_name_leaves_an_issued_store_unchanged(cli: Cli) -> None:
    good = cli.manifest("good.yaml", SELFSIGNED, certificate("first"))
    cli.ok("issue", "-f", good)
    before = files_under(cli.store)
    bad = cli.manifest(
        "bad.yaml",
        issuer("ca", {"ca": {"secretName": "Root_CA"}}),
        certificate("leaf", issuer="ca"),
    )

    result = cli.run("issue", "-f", good, "-f", bad, "--force")

    assert result.exit_code == 2, describe(result)
    assert "spec.ca.secretName" in result.stderr
    assert files_under(cli.store) == before


def test_an_idn_dns_name_is_told_its_a_label_by_validate_and_issue(cli: Cli) -> None:
    path = cli.manifest("idn.yaml", SELFSIGNED, certificate("web", dnsNames=["bücher.example"]))

    checked = cli.run("validate", "-f", path)
    issued = cli.run("issue", "-f", path)

    for result in (checked, issued):
        assert result.exit_code == 2, describe(result)
        assert '"xn--bcher-kva.example"' in result.stderr
        assert "internal error" not in result.output
    assert files_under(cli.store) == {}
