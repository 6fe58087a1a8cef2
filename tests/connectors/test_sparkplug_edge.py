"""The edge node's messages, without a broker: what NBIRTH, DBIRTH, DDATA, DDEATH and NDEATH carry, the seq and
bdSeq counters, commands, and that a host application session understands all of it.

Sources: Eclipse Sparkplug 3.0 (https://github.com/eclipse-sparkplug/sparkplug, chapters 5-6: tck-id-payloads-
nbirth-seq, -nbirth-bdseq, -nbirth-rebirth-req, -alias-birth-requirement, -alias-data-cmd-requirement,
-name-birth-data-requirement, -metric-datatype-not-req, -ndeath-seq); reference README section 6, SPB-02 to SPB-04.
"""

from datetime import datetime, timezone

import pytest

from shopfloor.connectors.sparkplug.codec import DT, decode_payload, metric_value, set_metric_value
from shopfloor.connectors.sparkplug.edge import EdgeError, EdgeSession
from shopfloor.connectors.sparkplug.host import REBIRTH_METRIC, SparkplugHost
from shopfloor.connectors.sparkplug.schema import Payload

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)


def session(**kwargs):
    return EdgeSession(
        "Plant 1",
        "weld-line",
        {"WLD-01": {"State": 0, "laser_power": 0.0}, "WLD-02": {"State": 0, "Program": "P1"}},
        node_metrics={"Supply Voltage": 24.0},
        **kwargs,
    )


def test_births_are_nbirth_with_seq_0_then_a_dbirth_per_device_with_the_next_seq():
    edge = session(bdseq=7)
    (n_topic, nbirth), *dbirths = edge.births(ts_ms=1_000)
    assert n_topic == "spBv1.0/Plant 1/NBIRTH/weld-line"
    assert [t for t, _ in dbirths] == [
        "spBv1.0/Plant 1/DBIRTH/weld-line/WLD-01",
        "spBv1.0/Plant 1/DBIRTH/weld-line/WLD-02",
    ]
    n = decode_payload(nbirth)
    assert (n.seq, n.timestamp) == (0, 1_000)
    assert [decode_payload(p).seq for _, p in dbirths] == [1, 2]
    metrics = {m.name: m for m in n.metrics}
    assert metric_value(metrics["bdSeq"]) == 7 and metrics["bdSeq"].datatype == DT["Int64"]
    rebirth = metrics[REBIRTH_METRIC]
    assert metric_value(rebirth) is False and rebirth.datatype == DT["Boolean"] and not rebirth.HasField("alias")
    assert metric_value(metrics["Supply Voltage"]) == 24.0


def test_every_birth_metric_has_name_alias_datatype_and_timestamp_with_aliases_unique_per_edge_node():
    edge = session()
    aliases = []
    for _, data in edge.births(ts_ms=5):
        for m in decode_payload(data).metrics:
            assert m.name and m.HasField("datatype") and m.timestamp == 5
            if m.name not in ("bdSeq", REBIRTH_METRIC):
                aliases.append(m.alias)
    assert len(aliases) == 5 and len(set(aliases)) == 5


def test_data_carries_alias_timestamp_and_value_only_and_continues_the_one_counter():
    edge = session()
    edge.births()
    topic, data, seq = edge.data("WLD-02", {"State": 2, "Program": "P7"}, ts_ms=9)
    assert topic == "spBv1.0/Plant 1/DDATA/weld-line/WLD-02" and seq == 3
    p = decode_payload(data)
    assert p.seq == 3
    for m in p.metrics:
        assert not m.name and m.HasField("alias") and not m.HasField("datatype") and m.timestamp == 9
    assert edge.data(None, {"Supply Voltage": 23.5})[2] == 4  # NDATA on the same counter
    assert edge.device_death("WLD-01")[0] == "spBv1.0/Plant 1/DDEATH/weld-line/WLD-01"
    assert decode_payload(edge.device_death("WLD-01")[1]).seq == 6


def test_seq_wraps_from_255_to_0():
    edge = session()
    edge.births()
    seqs = [edge.data("WLD-01", {"State": i % 3})[2] for i in range(260)]
    assert seqs[250:256] == [253, 254, 255, 0, 1, 2]


def test_bdseq_grows_with_each_connection_and_the_death_carries_it_without_seq():
    edge = session(bdseq=254)
    topic, will = edge.death()
    assert topic == "spBv1.0/Plant 1/NDEATH/weld-line"
    p = decode_payload(will)
    assert not p.HasField("seq") and [(m.name, metric_value(m)) for m in p.metrics] == [("bdSeq", 254)]
    edge.new_connection()
    assert metric_value(decode_payload(edge.death()[1]).metrics[0]) == 255
    edge.new_connection()
    assert metric_value(decode_payload(edge.death()[1]).metrics[0]) == 0


def test_a_rebirth_keeps_bdseq_and_starts_seq_again_at_0():
    edge = session(bdseq=3)
    edge.births()
    for _ in range(10):
        edge.data("WLD-01", {"State": 1})
    (_, nbirth), *_ = edge.births()
    n = decode_payload(nbirth)
    assert n.seq == 0 and metric_value(next(m for m in n.metrics if m.name == "bdSeq")) == 3


def test_births_carry_the_current_values():
    edge = session()
    edge.births()
    edge.data("WLD-01", {"laser_power": 1999.5})
    edge.update("WLD-02", {"Program": "P9"})
    _, d1, d2 = edge.births()
    assert {m.name: metric_value(m) for m in decode_payload(d1[1]).metrics}["laser_power"] == 1999.5
    assert {m.name: metric_value(m) for m in decode_payload(d2[1]).metrics}["Program"] == "P9"


def test_requests_that_would_break_the_specification_are_refused():
    edge = session()
    with pytest.raises(EdgeError, match="'Speed' is not in the birth certificate of WLD-01"):
        edge.data("WLD-01", {"Speed": 3})
    with pytest.raises(EdgeError, match="'WLD-09' is not a device"):
        edge.data("WLD-09", {"State": 1})
    with pytest.raises(EdgeError, match="no metric values"):
        edge.data("WLD-01", {})
    with pytest.raises(EdgeError, match="control metric"):
        EdgeSession("G", "E", {"D": {"Node Control/Reboot": False}})
    with pytest.raises(EdgeError, match="bdSeq must be 0..255"):
        EdgeSession("G", "E", {}, bdseq=256)
    with pytest.raises(ValueError, match="device id 'a/b'"):
        EdgeSession("G", "E", {"a/b": {}})


def test_declared_datatypes_are_used_and_checked():
    edge = EdgeSession(
        "G", "E", {"D": {"Count": 0, "Temp": 20.0}}, datatypes={"D": {"Count": "UInt16", "Temp": DT["Float"]}}
    )
    _, (_, dbirth) = edge.births()
    assert [m.datatype for m in decode_payload(dbirth).metrics] == [DT["UInt16"], DT["Float"]]
    with pytest.raises(ValueError, match="outside UInt16's range"):
        edge.data("D", {"Count": 70000})


def test_commands_decode_rebirth_and_aliased_device_writes():
    edge = session()
    ncmd = Payload(timestamp=1)
    set_metric_value(ncmd.metrics.add(name=REBIRTH_METRIC), DT["Boolean"], True)
    assert edge.commands(None, ncmd.SerializeToString()) == [(REBIRTH_METRIC, True)]
    dcmd = Payload(timestamp=1)
    dcmd.metrics.add(alias=edge.aliases[("WLD-02", "Program")]).string_value = "P3"
    assert edge.commands("WLD-02", dcmd.SerializeToString()) == [("Program", "P3")]
    with pytest.raises(EdgeError, match="unknown alias"):
        edge.commands("WLD-01", dcmd.SerializeToString())


def test_a_host_session_understands_the_edge_node():
    edge = session()
    host = SparkplugHost("mqtt", node_machine_for={"weld-line": "LINE-1"})
    signals = []
    for topic, data in edge.births(ts_ms=1_772_431_200_000):
        out = host.receive(topic, data, T0)
        assert out.quarantined == [] and out.rebirths == []
        signals += out.signals
    assert {(s.machine, s.tag, s.value) for s in signals} == {
        ("LINE-1", "Supply Voltage", 24.0),
        ("WLD-01", "State", 0),
        ("WLD-01", "laser_power", 0.0),
        ("WLD-02", "State", 0),
        ("WLD-02", "Program", "P1"),
    }
    topic, data, _ = edge.data("WLD-01", {"State": 1, "laser_power": 2000.5}, ts_ms=1_772_431_201_000)
    out = host.receive(topic, data, T0)
    assert [(s.tag, s.value, s.ts) for s in out.signals] == [
        ("State", 1, datetime(2026, 3, 2, 6, 0, 1, tzinfo=timezone.utc)),
        ("laser_power", 2000.5, datetime(2026, 3, 2, 6, 0, 1, tzinfo=timezone.utc)),
    ]
    edge.lose()
    topic, data, _ = edge.data("WLD-01", {"State": 2})
    assert host.receive(topic, data, T0).signals == []  # held: one message is missing
    topic, data = edge.death()
    out = host.receive(topic, data, T0)
    assert {s.quality.value for s in out.signals} == {"stale"} and len(out.signals) == 5
