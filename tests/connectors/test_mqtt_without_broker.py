"""The MQTT connector's pure parts: JSON topic payloads and their machine mapping, broker URLs, the topic filters
it subscribes (shared subscriptions included), and clear errors for options that cannot work.

Sources: MQTT 5.0 (OASIS Standard, https://docs.oasis-open.org/mqtt/mqtt/v5.0/mqtt-v5.0.html) section 4.7
(topic wildcards: '+' a whole level, '#' last) and 4.8.2 (shared subscriptions, ``$share/<name>/<filter>``).
"""

import re
from datetime import datetime, timezone

import pytest

from shopfloor.connectors.base import Quality
from shopfloor.connectors.mqtt import (
    JsonPayloadError,
    JsonTopic,
    MqttConfigError,
    MqttConnector,
    broker_address,
    json_signals,
    parse_broker_url,
)

RECEIVED = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
SPEC = JsonTopic.from_config({"topic": "plant/+/telemetry", "machine_level": 1})


def test_a_json_message_gives_one_signal_per_value_with_its_time_and_identity():
    out = json_signals(
        "mqtt", SPEC, "plant/CNC-01/telemetry", b'{"ts": 1772431200000, "values": {"State": 1, "Load": 55.5}}', RECEIVED
    )
    assert [(s.machine, s.tag, s.value, s.quality) for s in out] == [
        ("CNC-01", "State", 1, Quality.GOOD),
        ("CNC-01", "Load", 55.5, Quality.GOOD),
    ]
    assert out[0].ts == datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
    assert out[0].source_id == "plant/CNC-01/telemetry@2026-03-02T06:00:00+00:00:State"


def test_iso_times_are_converted_to_utc_and_a_missing_time_is_the_reception_time():
    (s,) = json_signals(
        "mqtt", SPEC, "plant/M/telemetry", b'{"ts": "2026-03-02T15:00:00+09:00", "values": {"a": 1}}', RECEIVED
    )
    assert s.ts == datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc) and s.ts.tzinfo == timezone.utc
    (s,) = json_signals("mqtt", SPEC, "plant/M/telemetry", b'{"values": {"a": null}}', RECEIVED)
    assert s.ts == RECEIVED and s.value is None and s.quality == Quality.BAD


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'{"values": 3}', '"values"'),
        (b"[1, 2]", '"values"'),
        (b'{"ts": "yesterday", "values": {"a": 1}}', "neither epoch milliseconds nor ISO 8601"),
        (b'{"ts": "2026-03-02T06:00:00", "values": {"a": 1}}', "no UTC offset"),
        (b'{"ts": true, "values": {"a": 1}}', "neither epoch"),
        (b'{"ts": 1e300, "values": {"a": 1}}', "not a representable time"),
        (b'{"values": {"a": [1, 2]}}', "'a' must be a number, text, boolean or null"),
        (b'{"values": {"a": NaN}}', "must be a finite number"),
    ],
)
def test_malformed_json_is_refused_with_the_reason(payload, reason):
    with pytest.raises(JsonPayloadError, match=reason):
        json_signals("mqtt", SPEC, "plant/M/telemetry", payload, RECEIVED)


def test_the_machine_comes_from_a_topic_level_a_renaming_or_a_fixed_code():
    renamed = JsonTopic.from_config({"topic": "f/+/+/v", "machine_level": 2, "machines": {"cnc1": "CNC-01"}})
    assert renamed.machine_of("f/hall/cnc1/v") == "CNC-01" and renamed.machine_of("f/hall/lathe/v") == "lathe"
    fixed = JsonTopic.from_config({"topic": "press/data", "machine": "PRS-01"})
    assert fixed.machine_of("press/data") == "PRS-01"


@pytest.mark.parametrize(
    "entry, reason",
    [
        ({"machine_level": 1}, "needs a 'topic'"),
        ({"topic": "a/#/b"}, "'#' only the last"),
        ({"topic": "a/x+/b"}, "'+' must fill a whole level"),
        ({"topic": "a/+", "machine_level": 5}, "machine_level must be a level 0..1"),
        ({"topic": "a/#", "machine_level": 1}, "is the '#' wildcard"),
        ({"topic": "a/b", "machine": ""}, "machine must be a machine code"),
        ({"topic": "a/b", "machin": "X"}, "unknown keys"),
    ],
)
def test_json_topic_options_that_cannot_work_are_refused(entry, reason):
    with pytest.raises(MqttConfigError, match=re.escape(reason)):
        JsonTopic.from_config(entry)


def test_broker_urls():
    assert broker_address("mqtt://127.0.0.1:1883") == ("127.0.0.1", 1883)
    assert broker_address("broker.local") == ("broker.local", 1883)
    tls = parse_broker_url("mqtts://ingest:s%40cret@broker.example")
    assert (tls.host, tls.port, tls.tls, tls.username, tls.password) == (
        "broker.example",
        8883,
        True,
        "ingest",
        "s@cret",
    )
    with pytest.raises(MqttConfigError, match="scheme"):
        parse_broker_url("http://broker")
    with pytest.raises(MqttConfigError, match="port"):
        parse_broker_url("mqtt://broker:99999")


def test_subscriptions_of_a_single_host_and_of_a_shared_subscription_worker():
    single = MqttConnector("m", "mqtt://b", groups=["G1"], host_id="h1", json_topics=[{"topic": "p/+/t"}])
    assert single.subscriptions() == [("spBv1.0/STATE/h1", 1), ("spBv1.0/G1/#", 1), ("p/+/t", 1)]
    shared = MqttConnector(
        "m", "mqtt://b", groups=["G1"], host_id="h1", json_topics=[{"topic": "p/+/t"}], share="ingest"
    )
    assert shared.subscriptions() == [
        ("spBv1.0/STATE/h1", 1),
        ("spBv1.0/G1/NBIRTH/+", 1),
        ("spBv1.0/G1/NDEATH/+", 1),
        ("spBv1.0/G1/DBIRTH/+/+", 1),
        ("spBv1.0/G1/DDEATH/+/+", 1),
        ("$share/ingest/spBv1.0/G1/NDATA/+", 1),
        ("$share/ingest/spBv1.0/G1/DDATA/+/+", 1),
        ("$share/ingest/p/+/t", 1),
    ]
    assert not shared.sparkplug.check_sequence and not shared.sparkplug.emit_births


def test_from_config_maps_devices_to_machines_and_refuses_unknown_options():
    conn = MqttConnector.from_config(
        "weld",
        {"url": "mqtt://b:1884", "groups": ["G"], "host_id": "h", "reorder_timeout_s": 1.5},
        {"WLD-01": {"device": "welder-1"}, "WLD-02": {"edge": "line-2", "device": "welder-1"}, "WLD-03": {}},
    )
    assert conn.sparkplug.machine_for == {"welder-1": "WLD-01", "line-2/welder-1": "WLD-02", "WLD-03": "WLD-03"}
    assert conn.sparkplug.reorder_timeout_s == 1.5 and conn.status.endpoint == "b:1884"
    with pytest.raises(MqttConfigError, match="unknown options \\['group'\\]"):
        MqttConnector.from_config("weld", {"url": "mqtt://b", "group": ["G"]}, {})
    with pytest.raises(MqttConfigError, match="url of the broker is required"):
        MqttConnector.from_config("weld", {"groups": ["G"]}, {})
    with pytest.raises(MqttConfigError, match="connector weld: group id 'a/b'"):
        MqttConnector.from_config("weld", {"url": "mqtt://b", "groups": ["a/b"]}, {})
    with pytest.raises(MqttConfigError, match="connector weld: could not convert string to float"):
        MqttConnector.from_config("weld", {"url": "mqtt://b", "reorder_timeout_s": "soon"}, {})
