"""Fixtures shared by the connector tests: the MQTT broker named by SHOPFLOOR_TEST_MQTT, and unique names.

A test that needs the broker takes ``mqtt_url``: it skips with the reason when SHOPFLOOR_TEST_MQTT is unset,
and fails instead under SHOPFLOOR_REQUIRE_SERVICES=1.  ``unique`` keeps topics, client ids and host ids of one
test apart from every other test sharing the broker.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import require_service


@pytest.fixture
def mqtt_url() -> str:
    """The URL of the real MQTT broker, e.g. mqtt://127.0.0.1:1883."""
    return require_service("SHOPFLOOR_TEST_MQTT", "MQTT broker")


@pytest.fixture
def unique() -> str:
    """A short name no other test uses, for a topic group, a client id or a host id."""
    return f"t{uuid.uuid4().hex[:10]}"
