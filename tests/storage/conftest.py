"""Fixtures for the blob store tests: each test runs on the directory store and on S3."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.seaweed import S3Server

STORES = ["dir", "s3"]


def on_store(request: pytest.FixtureRequest, config: dict[str, Any], kind: str) -> dict[str, Any]:
    """`config` with its blobs in the directory store, or in a fresh prefix of the S3 bucket."""
    config = {k: v for k, v in config.items() if not k.startswith("BLOB_")}
    if kind == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        config.update(server.settings(f"test-{uuid.uuid4().hex[:12]}"))
        # Small thresholds, so that a test's file of a few MB goes up in parts.
        config.update(BLOB_S3_MULTIPART_BYTES=6 << 20, BLOB_S3_PART_BYTES=5 << 20)
    else:
        config["BLOB_STORE"] = "dir"
    return config


@pytest.fixture(params=STORES)
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> dict[str, Any]:
    """The test's settings on one store or the other (whatever COLLECT_TEST_BLOB_STORE says)."""
    return on_store(request, app_config, request.param)
