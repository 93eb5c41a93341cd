"""What a sync run's source set is: the key under which the state remembers its namespaces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certctl.engine.sync import source_set


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "extra.yaml").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "deploy")
    monkeypatch.chdir(tmp_path)
    return tmp_path.resolve()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(["deploy"], ["./deploy/"], id="a relative and a dotted spelling are one set"),
        pytest.param(["link"], ["deploy"], id="a symlink is the folder it points to"),
        pytest.param(
            ["deploy", "extra.yaml"], ["extra.yaml", "deploy"], id="the order of -f does not matter"
        ),
        pytest.param(["deploy", "deploy"], ["deploy"], id="a path given twice counts once"),
    ],
)
def test_spellings_of_the_same_paths_are_one_source_set(
    here: Path, first: list[str], second: list[str]
) -> None:
    assert source_set(first) == source_set(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param((["deploy"], None), (["deploy", "extra.yaml"], None), id="another path"),
        pytest.param((["-"], None), (["deploy"], None), id="stdin is its own set"),
        pytest.param(
            (["deploy"], None), (["deploy"], "default"), id="adding --from-cluster is another set"
        ),
        pytest.param(
            (["deploy"], "default"),
            (["deploy"], "*"),
            id="--from-cluster over one namespace and over all (-A) differ",
        ),
    ],
)
def test_different_inputs_are_different_source_sets(
    here: Path, first: tuple[list[str], str | None], second: tuple[list[str], str | None]
) -> None:
    assert source_set(*first) != source_set(*second)


def test_a_source_set_is_the_sorted_resolved_paths(here: Path) -> None:
    assert json.loads(source_set(["extra.yaml", "-", "deploy"], "web")) == [
        "-",
        "--from-cluster=web",
        f"{here}/deploy",
        f"{here}/extra.yaml",
    ]
