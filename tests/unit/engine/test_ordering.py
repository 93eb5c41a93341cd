import pytest

from certctl.engine.ordering import order_by_secret_dependencies
from certctl.errors import ManifestError

# Each item: (name, secret it produces, secrets its issuer needs).
Item = tuple[str, tuple[str, str], list[tuple[str, str]]]


def order(items: list[Item]) -> list[list[str]]:
    levels = order_by_secret_dependencies(
        items,
        produces=lambda item: item[1],
        needs=lambda item: item[2],
        describe=lambda item: ("test.yaml", item[0]),
    )
    return [[item[0] for item in level] for level in levels]


ROOT: Item = ("root", ("cert-manager", "root-secret"), [])
LEAF: Item = ("leaf", ("default", "leaf-tls"), [("cert-manager", "root-secret")])
OTHER: Item = ("other", ("default", "other-tls"), [])
INTERMEDIATE: Item = (
    "intermediate",
    ("cert-manager", "intermediate"),
    [("cert-manager", "root-secret")],
)
DEEP_LEAF: Item = ("deep", ("default", "deep-tls"), [("cert-manager", "intermediate")])


@pytest.mark.parametrize(
    ("items", "levels"),
    [
        pytest.param([LEAF, ROOT], [["root"], ["leaf"]], id="a leaf waits for the CA it needs"),
        pytest.param(
            [LEAF, OTHER, ROOT],
            [["other", "root"], ["leaf"]],
            id="independent certificates share the first level",
        ),
        pytest.param(
            [DEEP_LEAF, INTERMEDIATE, ROOT],
            [["root"], ["intermediate"], ["deep"]],
            id="a chain of CAs is issued top down",
        ),
        pytest.param([LEAF], [["leaf"]], id="a secret nobody in the run produces is no dependency"),
        pytest.param([], [], id="nothing to order gives no levels"),
    ],
)
def test_levels(items: list[Item], levels: list[list[str]]) -> None:
    assert order(items) == levels


def test_a_cycle_is_a_manifest_error_naming_both_certificates() -> None:
    a: Item = ("a", ("ns", "a"), [("ns", "b")])
    b: Item = ("b", ("ns", "b"), [("ns", "a")])
    with pytest.raises(ManifestError) as caught:
        order([a, b])
    assert "a is part of a cycle" in caught.value.message
    assert "b is part of a cycle" in caught.value.message
