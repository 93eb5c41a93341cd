"""Safe, bounded YAML loading: limits, encodings, syntax errors and duplicate keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from certctl.api import yamlsafe
from certctl.api.loader import load_manifests
from certctl.errors import ManifestError
from tests.unit.api.builders import certificate, dump, load_text, problems_of


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def problem_of(text: str) -> str:
    (found,) = problems_of(text)
    return found


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        pytest.param(
            "a: [1, 2\nb: 3\n",
            "invalid YAML",
            2,
            id="an unclosed flow sequence is a syntax error with its line",
        ),
        pytest.param(
            "a: 1\n b: 2\n",
            "mapping values are not allowed",
            2,
            id="bad indentation names the yaml problem",
        ),
        pytest.param("a:\n\t- b\n", "invalid YAML", 2, id="a tab used for indentation"),
        pytest.param("a: *nowhere\n", "found undefined alias", 1, id="an undefined alias"),
        pytest.param(
            "a: 1\nb: 2\na: 3\n",
            "duplicate key 'a'",
            3,
            id="a duplicate key is rejected on its second line",
        ),
        pytest.param(
            "a: !!python/object:os.system x\n",
            "could not determine a constructor",
            1,
            id="python tags are never constructed",
        ),
        pytest.param(
            billion_laughs(), "YAML aliases", None, id="a billion laughs document is rejected"
        ),
        pytest.param("a: &a [*a]\n", "recursive YAML alias", 1, id="a recursive alias is rejected"),
        pytest.param("a: \x07\n", "invalid YAML", None, id="a control character is rejected"),
    ],
)
def test_unsafe_or_broken_yaml_is_a_problem(text: str, message: str, line: int | None) -> None:
    found = problem_of(text)
    assert message in found
    if line is not None:
        assert found.startswith(f"-:{line}: ")
    assert "Traceback" not in found


def test_wide_alias_fan_out_is_limited_by_expanded_size() -> None:
    # Few aliases, but each one doubles the size: caught by the node budget.
    lines = ["a0: &a0 [" + ",".join(["x"] * 1000) + "]"]
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [*a{level - 1}, *a{level - 1}]")
    with pytest.raises(yamlsafe.YamlSafetyError, match="expands to more than"):
        yamlsafe.parse_documents("\n".join(lines))


def test_a_few_aliases_are_fine() -> None:
    text = "base: &base {a: 1}\nfirst: *base\nsecond:\n  <<: *base\n  b: 2\n"
    (document,) = yamlsafe.parse_documents(text)
    assert document.data["second"] == {"a": 1, "b": 2}


def test_merge_keys_overridden_by_explicit_keys_are_not_duplicates() -> None:
    text = "base: &base {a: 1, b: 1}\nitem:\n  <<: *base\n  b: 2\n"
    (document,) = yamlsafe.parse_documents(text)
    assert document.data["item"] == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "a: 1\nb: yes\nc: 1.5\nd: ~\ne: 2024-01-01\nf: '007'\ng: +1\n",
            id="implicit scalar types match pyyaml",
        ),
        pytest.param(
            "a: [x, 'y', \"z\", 0x1f, .inf, Null, TRUE]\n", id="flow sequences match pyyaml"
        ),
        pytest.param("---\na: 1\n---\n---\nb: 2\n", id="empty documents match pyyaml"),
    ],
)
def test_fast_resolver_matches_pyyaml(text: str) -> None:
    expected = list(yaml.load_all(text, Loader=yaml.SafeLoader))
    assert [d.data for d in yamlsafe.parse_documents(text)] == expected


def test_files_larger_than_the_limit_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    filler = "# " + "x" * 1000 + "\n"
    path.write_text(dump(certificate()) + filler * (yamlsafe.MAX_FILE_BYTES // len(filler) + 1))
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(path)])
    assert "larger than the 4 MiB limit" in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        pytest.param(
            b"\x7fELF\x02\x01\x01\x00\x00\x00", "not a text file", 1, id="a binary with nul bytes"
        ),
        pytest.param(
            b"a: 1\nb: \xff\xfe\n",
            "not valid UTF-8 (byte 0xff",
            2,
            id="invalid utf-8 names the byte and line",
        ),
    ],
)
def test_binary_files_are_rejected(tmp_path: Path, content: bytes, message: str, line: int) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(content)
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(path)])
    (problem,) = caught.value.problems
    assert message in problem.message
    assert str(path) in problem.message
    assert problem.line == line


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + dump(certificate()).encode())
    assert load_manifests([str(path)]).certificates[0].name == "web"


def test_duplicate_keys_in_json_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{"apiVersion": "v1", "kind": "Secret", "kind": "Secret"}')
    with pytest.raises(ManifestError, match="duplicate key 'kind'"):
        load_manifests([str(path)])


def test_invalid_json_reports_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "apiVersion": "v1",\n  "kind": \n}\n')
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(path)])
    (problem,) = caught.value.problems
    assert problem.line == 4
    assert "invalid JSON" in problem.message


def test_locate_lines_tolerates_paths_that_do_not_exist() -> None:
    text = "a:\n  b:\n  - 1\n  - 2\n"
    assert yamlsafe.locate_lines(
        text, [(0, ("a", "b", 1)), (0, ("a", "zz")), (0, ("a", "b", 9)), (3, ())]
    ) == [4, 1, 2, None]


# An integer of over 4300 digits cannot even be turned into text by Python, so it
# used to end in "internal error"; no manifest field takes more than an int64.
@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(
            dump(certificate(revisionHistoryLimit=0)).replace(
                "revisionHistoryLimit: 0", "revisionHistoryLimit: " + "9" * 5000
            ),
            None,
            id="a yaml integer of thousands of digits",
        ),
        pytest.param(
            '{"apiVersion": "cert-manager.io/v1", "kind": "Certificate",\n'
            '"metadata": {"name": "web"},\n"spec": {"revisionHistoryLimit": ' + "9" * 5000 + "}}",
            3,
            id="a json integer of thousands of digits",
        ),
        pytest.param(
            dump(certificate(revisionHistoryLimit=0)).replace(
                "revisionHistoryLimit: 0", "revisionHistoryLimit: 0x" + "f" * 5000
            ),
            None,
            id="a yaml hex integer whose value is too long to print",
        ),
    ],
)
def test_an_integer_too_long_for_any_field_is_a_manifest_error(text: str, line: int | None) -> None:
    with pytest.raises(ManifestError) as caught:
        load_text(text)

    (problem,) = caught.value.problems
    assert problem.message == (
        f"invalid {'JSON' if text.startswith('{') else 'YAML'}: an integer of "
        f"{5002 if '0x' in text else 5000} characters is too large for any manifest field "
        f"(the limit is {yamlsafe.MAX_INTEGER_CHARS}); quote it if it is meant as text"
    )
    rows = text.splitlines()
    assert problem.line == (line or 1 + next(i for i, r in enumerate(rows) if "History" in r))


def test_an_integer_within_the_limit_is_checked_by_the_schema() -> None:
    assert len(str(10**30)) <= yamlsafe.MAX_INTEGER_CHARS

    (found,) = problems_of(dump(certificate(revisionHistoryLimit=10**30)))

    assert found.endswith(
        f"spec.revisionHistoryLimit: Invalid value: {10**30}: must be between -2147483648 "
        "and 2147483647"
    )
