"""Which store a --store value selects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from certctl.errors import UsageError
from certctl.stores.directory import DirectoryStore
from certctl.stores.registry import open_store, valid_forms


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        pytest.param("dir:/etc/tls", Path("/etc/tls"), id="an absolute folder"),
        pytest.param("dir:./certs", Path("certs"), id="a relative folder stays relative"),
        pytest.param("dir:~/tls", Path.home() / "tls", id="a folder under home is expanded"),
        pytest.param("dir:C:/x:y", Path("C:/x:y"), id="only the first colon separates"),
    ],
)
def test_dir_specs_open_a_directory_store(spec: str, want: Path) -> None:
    store = open_store(spec)

    assert isinstance(store, DirectoryStore)
    assert store.root == want
    assert store.description.startswith("dir:")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        pytest.param(
            "kubernetes",
            "could not load a Kubernetes configuration",
            id="kubernetes with no kubeconfig and outside a cluster",
        ),
        pytest.param("dir", "needs a value after the colon", id="dir without a folder"),
        pytest.param("dir:", "needs a value after the colon", id="dir with an empty folder"),
        pytest.param("kubernetes:prod", "takes no value", id="kubernetes with a value"),
        pytest.param("s3:bucket", "not a store certctl knows", id="an unknown scheme"),
        pytest.param("", "not a store certctl knows", id="an empty value"),
    ],
)
def test_unusable_specs_are_usage_errors(spec: str, match: str) -> None:
    with pytest.raises(UsageError, match=match) as caught:
        open_store(spec)

    assert caught.value.exit_code == 2
    assert "dir:" in caught.value.paragraph()


def test_unknown_schemes_list_the_valid_forms() -> None:
    with pytest.raises(UsageError) as caught:
        open_store("s3:bucket")

    for form in ("dir:PATH", "kubernetes", "manifest", "manifest:FILE"):
        assert form in caught.value.hint
    assert valid_forms() == ["dir:PATH", "kubernetes", "manifest", "manifest:FILE"]


def test_importing_the_registry_imports_no_store() -> None:
    code = "import sys, certctl.stores.registry; print('certctl.stores.directory' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    ).stdout

    assert out.strip() == "False"
