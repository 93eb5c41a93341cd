"""Fixtures for the certctl.pki unit tests."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.unit.pki.builders import Authority, make_authority, make_intermediate


@pytest.fixture(scope="session")
def root() -> Authority:
    return make_authority()


@pytest.fixture(scope="session")
def intermediate(root: Authority) -> Authority:
    return make_intermediate(root)


@pytest.fixture
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the openssl command is required under CI=true")
        pytest.skip("the openssl command is not installed")
    return path
