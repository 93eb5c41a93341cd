"""No Python warning reaches the user without --debug."""

from __future__ import annotations

from tests.cli.conftest import SELFSIGNED, Cli, certificate, describe


def test_a_three_letter_country_is_issued_and_inspected_without_python_warnings(
    cli: Cli,
) -> None:
    # cert-manager accepts subject.countries: [USA]; cryptography warns each time the
    # subject is read.
    path = cli.manifest("usa.yaml", SELFSIGNED, certificate("usa", subject={"countries": ["USA"]}))

    issued = cli.run("issue", "-f", path)
    inspected = cli.run("inspect", cli.secret("default", "usa-tls") / "tls.crt")
    listed = cli.run("get", "certificates", "-f", path)

    for result in (issued, inspected, listed):
        assert result.exit_code == 0, describe(result)
        assert "Warning" not in result.stderr, describe(result)
    assert "C=USA" in inspected.stdout
