"""Every file in tests/corpus/malformed must be rejected with the message its header names.

Each corpus file starts with ``# expect: <part of the message>``. The same files
are fed to ``certctl validate`` by the CLI tests, so each one is self-contained.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from certctl.api import yamlsafe
from certctl.api.loader import load_manifests
from certctl.errors import ManifestError

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "malformed"
HEADER = b"# expect: "


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml"))


def expectation(path: Path) -> str:
    first_line = path.read_bytes().split(b"\n", 1)[0]
    assert first_line.startswith(HEADER), f"{path.name} must start with '# expect: ...'"
    return first_line[len(HEADER) :].decode("utf-8").strip()


def test_the_corpus_has_at_least_thirty_cases() -> None:
    assert len(corpus_files()) >= 30


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.stem.replace("-", " "))
def test_malformed_manifest_is_rejected(path: Path) -> None:
    expected = expectation(path)
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(path)])
    rendered = str(caught.value)
    assert path.name in rendered
    assert expected in rendered, rendered
    matching = [p for p in caught.value.problems if expected in str(p)]
    assert matching, rendered
    assert all(p.path == str(path) for p in matching)
    assert all(p.line is not None and p.line > 1 for p in matching), rendered


def test_the_whole_corpus_directory_reports_every_file_at_once() -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(CORPUS)])
    reported = {Path(p.path).name for p in caught.value.problems}
    assert reported == {p.name for p in corpus_files()}


def test_a_huge_file_is_rejected_without_being_parsed(tmp_path: Path) -> None:
    # Generated here rather than committed: the limit is 4 MiB.
    path = tmp_path / "huge.yaml"
    with path.open("w") as stream:
        stream.write("# expect: larger than\napiVersion: v1\nkind: ConfigMap\ndata:\n")
        line = "  k{}: " + "x" * 200 + "\n"
        for index in range(yamlsafe.MAX_FILE_BYTES // 200 + 10):
            stream.write(line.format(index))
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(path)])
    assert "huge.yaml is larger than the 4 MiB limit" in str(caught.value)
