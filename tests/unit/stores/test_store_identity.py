"""Each store's identity: what the state is keyed by, so two stores never share history."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from certctl.stores.directory import DirectoryStore
from certctl.stores.manifest import ManifestFileStore, ManifestStdoutStore


def test_a_folder_is_the_same_store_however_it_is_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "certs")
    monkeypatch.chdir(tmp_path)

    spellings = [
        DirectoryStore(Path("certs")),
        DirectoryStore(Path("./certs/")),
        DirectoryStore(tmp_path / "certs"),
        DirectoryStore(tmp_path / "link"),
    ]

    assert {store.identity for store in spellings} == {f"dir:{os.path.realpath('certs')}"}
    assert DirectoryStore(Path("other")).identity == f"dir:{os.path.realpath('other')}"


def test_a_manifest_file_is_keyed_by_its_resolved_path_and_stdout_by_one_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    relative = ManifestFileStore("secrets.yaml")
    absolute = ManifestFileStore(tmp_path / "secrets.yaml")

    assert relative.identity == absolute.identity == f"manifest:{tmp_path.resolve()}/secrets.yaml"
    assert ManifestFileStore("other.yaml").identity != relative.identity
    assert ManifestStdoutStore().identity == "manifest:stdout"


def write_kubeconfig(path: Path, current: str) -> Path:
    """Two clusters, one context each; nothing listens there (identity needs no request)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": f"https://{name}.example.test:6443"}}
            for name in ("prod", "staging")
        ],
        "users": [{"name": "me", "user": {"token": "t"}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": "me"}}
            for name in ("prod", "staging")
        ],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    ("context", "want"),
    [
        pytest.param(None, "kubernetes:prod@https://prod.example.test:6443", id="no --context"),
        pytest.param(
            "prod",
            "kubernetes:prod@https://prod.example.test:6443",
            id="--context naming the current context is the same store",
        ),
        pytest.param(
            "staging",
            "kubernetes:staging@https://staging.example.test:6443",
            id="another context is another store",
        ),
    ],
)
def test_a_cluster_is_keyed_by_its_context_and_api_server(
    tmp_path: Path, context: str | None, want: str
) -> None:
    from certctl.stores.kubernetes import KubernetesStore

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", current="prod")

    store = KubernetesStore(kubeconfig=str(kubeconfig), context=context)

    assert store.identity == want
