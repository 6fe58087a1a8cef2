"""The Sparkplug host application session, without a broker: births and aliases, the sequence counter and its
wrap, reordering and the reorder timeout, rebirth requests, deaths and STALE, quarantine, Signals.

Sources: Eclipse Sparkplug 3.0 (https://github.com/eclipse-sparkplug/sparkplug, specification chapters 4-6);
reference README section 6: SPB-03 (seq wraps 255 -> 0, one counter per edge node, test vector 254, 255, 0, 1;
NDEATH with another bdSeq ignored), SPB-04 (rebirth triggers, "received 1, 2, 4 -> start timer at 4; if 3 does
not arrive -> send rebirth"; STALE on NDEATH/DDEATH), SPB-05 (the sample Raspberry Pi / Pibrella messages).
"""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.connectors.base import Quality, SignalBlock, expand_signals
from shopfloor.connectors.sparkplug import host as host_module
from shopfloor.connectors.sparkplug.codec import DT, set_metric_value, set_quality
from shopfloor.connectors.sparkplug.host import REBIRTH_METRIC, SparkplugHost
from shopfloor.connectors.sparkplug.schema import Payload

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
MS0 = 1486144502122  # the sample payloads' timestamp (SPB-05)
G, E, D = "Sparkplug B Devices", "Raspberry Pi", "Pibrella"
NBIRTH = f"spBv1.0/{G}/NBIRTH/{E}"
NDEATH = f"spBv1.0/{G}/NDEATH/{E}"
NDATA = f"spBv1.0/{G}/NDATA/{E}"
DBIRTH = f"spBv1.0/{G}/DBIRTH/{E}/{D}"
DDATA = f"spBv1.0/{G}/DDATA/{E}/{D}"
DDEATH = f"spBv1.0/{G}/DDEATH/{E}/{D}"
# SPB-05 DBIRTH: thirteen Boolean inputs/outputs and a String property; aliases added (unique per edge node).
PIBRELLA = [
    "Inputs/A",
    "Inputs/B",
    "Inputs/C",
    "Inputs/D",
    "Inputs/Button",
    "Outputs/E",
    "Outputs/F",
    "Outputs/G",
    "Outputs/H",
    "Outputs/LEDs/Green",
    "Outputs/LEDs/Red",
    "Outputs/LEDs/Yellow",
    "Outputs/Buzzer",
]
ALIAS = {name: i for i, name in enumerate(PIBRELLA, start=10)}


def nbirth(seq=0, bdseq=0, ts=MS0):
    p = Payload(timestamp=ts, seq=seq)
    set_metric_value(p.metrics.add(name="bdSeq", timestamp=ts), DT["Int64"], bdseq)
    set_metric_value(p.metrics.add(name=REBIRTH_METRIC, timestamp=ts), DT["Boolean"], False)
    set_metric_value(p.metrics.add(name="Supply Voltage", alias=1, timestamp=ts), DT["Float"], 12.1)
    return p.SerializeToString()


def dbirth(seq=1, ts=MS0):
    p = Payload(timestamp=ts, seq=seq)
    for name in PIBRELLA:
        set_metric_value(p.metrics.add(name=name, alias=ALIAS[name], timestamp=ts), DT["Boolean"], False)
    set_metric_value(p.metrics.add(name="Properties/Hardware Make", alias=2, timestamp=ts), DT["String"], "Pibrella")
    return p.SerializeToString()


def ddata(seq, values=None, ts=None, by_name=False):
    ts = ts if ts is not None else MS0 + 1000 + seq
    p = Payload(timestamp=ts, seq=seq)
    for name, value in (values or {"Inputs/A": True}).items():
        m = p.metrics.add(timestamp=ts)
        if by_name:
            m.name = name
        else:
            m.alias = ALIAS[name]
        m.boolean_value = value
    return p.SerializeToString()


def death(bdseq):
    p = Payload(timestamp=MS0 + 99)
    set_metric_value(p.metrics.add(name="bdSeq"), DT["UInt64"], bdseq)  # SPB-05's NDEATH shows UInt64
    return p.SerializeToString()


def born_host(**kwargs):
    host = SparkplugHost("mqtt", reorder_timeout_s=2.0, **kwargs)
    assert host.receive(NBIRTH, nbirth(), T0).quarantined == []
    assert host.receive(DBIRTH, dbirth(), T0).quarantined == []
    return host


def values(result, tag="Inputs/A"):
    return [s.value for s in result.signals if s.tag == tag]


def test_the_sample_session_gives_signals_for_the_device_with_metric_times_and_identities():
    host = SparkplugHost("mqtt", reorder_timeout_s=2.0)
    out = host.receive(NBIRTH, nbirth(), T0)
    assert out.signals == [] and out.rebirths == []  # node metrics go nowhere unless the node names a machine
    out = host.receive(DBIRTH, dbirth(), T0)
    assert {s.tag for s in out.signals} == set(PIBRELLA) | {"Properties/Hardware Make"}
    assert all(
        s.machine == "Pibrella" and s.ts == datetime(2017, 2, 3, 17, 55, 2, 122000, timezone.utc) for s in out.signals
    )
    out = host.receive(DDATA, ddata(2, {"Inputs/A": True, "Inputs/C": True}, ts=MS0 + 500), T0)
    assert [(s.tag, s.value, s.quality) for s in out.signals] == [
        ("Inputs/A", True, Quality.GOOD),
        ("Inputs/C", True, Quality.GOOD),
    ]
    assert out.signals[0].source == "mqtt"
    assert out.signals[0].source_id == f"{G}/{E}/{D}:0:2:{MS0 + 500}:Inputs/A"


def test_node_metrics_reach_the_machine_the_node_is_mapped_to():
    host = SparkplugHost("mqtt", node_machine_for={E: "RPI-1"}, machine_for={D: "LED-PANEL"})
    out = host.receive(NBIRTH, nbirth(), T0)
    assert [(s.machine, s.tag, s.value) for s in out.signals] == [("RPI-1", "Supply Voltage", 12.1)]
    host.receive(DBIRTH, dbirth(), T0)
    p = Payload(timestamp=MS0 + 5, seq=2)
    set_metric_value(p.metrics.add(alias=1, timestamp=MS0 + 5), DT["Float"], 12.3)  # SPB-05's NDATA
    out = host.receive(NDATA, p.SerializeToString(), T0)
    assert [(s.machine, s.tag, s.value) for s in out.signals] == [("RPI-1", "Supply Voltage", 12.3)]
    out = host.receive(DDATA, ddata(3), T0)
    assert {s.machine for s in out.signals} == {"LED-PANEL"}


def test_sequence_wraps_from_255_to_0():
    host = born_host()
    seq, sent, received = 2, [], []
    for i in range(300):
        out = host.receive(DDATA, ddata(seq, {"Inputs/A": i % 2 == 0}), T0)
        assert out.rebirths == [] and out.ignored == 0
        received += values(out)
        sent.append(seq)
        seq = (seq + 1) % 256
    assert sent[252:256] == [254, 255, 0, 1]  # the SPB-03 vector, inside one continuous session
    assert received == [i % 2 == 0 for i in range(300)]


def test_one_counter_runs_across_node_and_device_messages():
    host = born_host(node_machine_for={E: "RPI-1"})
    p = Payload(timestamp=MS0, seq=2)
    set_metric_value(p.metrics.add(alias=1, timestamp=MS0), DT["Float"], 12.3)
    host.receive(NDATA, p.SerializeToString(), T0)
    out = host.receive(DDATA, ddata(3), T0)
    assert values(out) == [True] and out.rebirths == []


def test_out_of_order_messages_are_held_then_applied_in_order_and_the_timer_stops():
    host = born_host()
    assert host.receive(DDATA, ddata(2, {"Inputs/A": True}), T0).signals
    assert host.receive(DDATA, ddata(4, {"Inputs/A": False}), T0).signals == []  # 3 is missing: held, timer on
    out = host.receive(DDATA, ddata(3, {"Inputs/B": True}), T0 + timedelta(seconds=1))
    assert [(s.tag, s.value) for s in out.signals] == [("Inputs/B", True), ("Inputs/A", False)]
    assert host.check_timeouts(T0 + timedelta(seconds=10)).rebirths == []  # the gap was filled in time


def test_a_gap_not_filled_within_the_reorder_timeout_requests_a_rebirth():
    host = born_host()
    host.receive(DDATA, ddata(2), T0)  # received 2, then 4: the timer starts at 4 (SPB-04)
    assert host.receive(DDATA, ddata(4), T0).rebirths == []
    assert host.check_timeouts(T0 + timedelta(seconds=1.9)).rebirths == []
    out = host.check_timeouts(T0 + timedelta(seconds=2))
    assert out.rebirths == [(G, E)] and out.discarded == 1
    out = host.receive(DDATA, ddata(5), T0 + timedelta(seconds=3))
    assert out.signals == [] and out.ignored == 1  # nothing is applied until the new birth
    assert out.rebirths == []  # asked 1 s ago already: requests are spaced by rebirth_interval_s
    assert host.receive(DDATA, ddata(6), T0 + timedelta(seconds=7.5)).rebirths == [(G, E)]
    host.receive(NBIRTH, nbirth(), T0 + timedelta(seconds=8))
    host.receive(DBIRTH, dbirth(), T0 + timedelta(seconds=8))
    assert values(host.receive(DDATA, ddata(2), T0 + timedelta(seconds=8))) == [True]


def test_the_timeout_is_also_checked_when_the_next_message_arrives():
    host = born_host()
    host.receive(DDATA, ddata(3), T0)
    assert host.receive(DDATA, ddata(4), T0 + timedelta(seconds=2.5)).rebirths == [(G, E)]


def test_a_redelivered_copy_is_ignored_but_a_new_message_with_the_same_seq_is_not_taken_for_one():
    host = born_host()
    first = ddata(2, ts=MS0 + 10)
    assert values(host.receive(DDATA, first, T0)) == [True]
    out = host.receive(DDATA, first, T0)
    assert out.signals == [] and out.ignored == 1 and out.rebirths == []
    assert host.receive(DDATA, ddata(3), T0).signals


def test_the_same_message_has_the_same_identity_and_a_repeated_seq_another():
    a, b = born_host(), born_host()
    message = ddata(2, ts=MS0 + 7)
    assert [s.source_id for s in a.receive(DDATA, message, T0).signals] == [
        s.source_id for s in b.receive(DDATA, message, T0).signals
    ]
    identities, seq = set(), 3
    for i in range(256):  # seq 3..255, 0, 1, 2: seq 2 comes round again, in another message
        identities.update(s.source_id for s in a.receive(DDATA, ddata(seq, ts=MS0 + 100 + i), T0).signals)
        seq = (seq + 1) % 256
    assert len(identities) == 256


def test_data_before_birth_is_ignored_and_a_rebirth_requested():
    host = SparkplugHost("mqtt")
    out = host.receive(DDATA, ddata(7), T0)
    assert out.signals == [] and out.ignored == 1 and out.rebirths == [(G, E)]


def test_data_of_a_device_without_dbirth_requests_a_rebirth():
    host = SparkplugHost("mqtt")
    host.receive(NBIRTH, nbirth(), T0)
    out = host.receive(DDATA, ddata(1), T0)
    assert out.signals == [] and out.rebirths == [(G, E)]


def test_an_unknown_alias_or_name_is_quarantined_asks_a_rebirth_and_the_rest_of_the_message_arrives():
    host = born_host()
    p = Payload(timestamp=MS0, seq=2)
    p.metrics.add(alias=99, timestamp=MS0).boolean_value = True
    p.metrics.add(alias=ALIAS["Inputs/B"], timestamp=MS0).boolean_value = True
    p.metrics.add(name="Inputs/Z", timestamp=MS0).boolean_value = True
    data = p.SerializeToString()
    out = host.receive(DDATA, data, T0)
    assert [(s.tag, s.value) for s in out.signals] == [("Inputs/B", True)]
    assert out.rebirths == [(G, E)]
    (q,) = out.quarantined
    assert q.topic == DDATA and q.payload == data and q.received_at == T0
    assert "alias 99 was not in the birth certificate of Pibrella" in q.reason
    assert "metric 'Inputs/Z' was not in the birth certificate" in q.reason


def test_metrics_may_be_sent_by_name_instead_of_alias():
    host = born_host()
    assert values(host.receive(DDATA, ddata(2, by_name=True), T0)) == [True]


def test_ndeath_with_the_current_bdseq_marks_node_and_device_metrics_stale_at_the_host_time():
    host = SparkplugHost("mqtt", node_machine_for={E: "RPI-1"})
    host.receive(NBIRTH, nbirth(bdseq=3), T0)
    host.receive(DBIRTH, dbirth(), T0)
    out = host.receive(NDEATH, death(3), T0 + timedelta(minutes=5))
    stale = {(s.machine, s.tag) for s in out.signals}
    assert stale == {("RPI-1", "Supply Voltage")} | {("Pibrella", t) for t in [*PIBRELLA, "Properties/Hardware Make"]}
    assert all(s.quality == Quality.STALE and s.value is None for s in out.signals)
    assert {s.ts for s in out.signals} == {T0 + timedelta(minutes=5)}
    out = host.receive(DDATA, ddata(2), T0 + timedelta(minutes=6))
    assert out.signals == [] and out.rebirths == [(G, E)]  # dead: data needs a new birth


def test_an_ndeath_of_an_older_session_is_ignored():
    host = SparkplugHost("mqtt")
    host.receive(NBIRTH, nbirth(bdseq=4), T0)
    host.receive(DBIRTH, dbirth(), T0)
    out = host.receive(NDEATH, death(3), T0)  # the will of the connection before, delivered late
    assert out.signals == [] and out.ignored == 1
    assert values(host.receive(DDATA, ddata(2), T0)) == [True]


def test_ddeath_marks_the_device_stale_at_its_own_timestamp_and_later_data_needs_a_birth():
    host = born_host()
    p = Payload(timestamp=MS0 + 60_000, seq=2)  # SPB-05: DDEATH has a timestamp and seq, no metrics
    out = host.receive(DDEATH, p.SerializeToString(), T0)
    assert len(out.signals) == 14 and {s.quality for s in out.signals} == {Quality.STALE}
    assert {s.ts for s in out.signals} == {datetime(2017, 2, 3, 17, 56, 2, 122000, timezone.utc)}
    out = host.receive(DDATA, ddata(3), T0)
    assert out.signals == [] and out.rebirths == [(G, E)]


def test_a_malformed_payload_is_quarantined_counted_and_the_stream_goes_on():
    kept = []
    host = born_host(on_quarantine=kept.append)
    garbage = b"\xff\xff\xff not protobuf"
    out = host.receive(DDATA, garbage, T0)
    assert out.signals == [] and out.rebirths == [(G, E)]
    assert kept == out.quarantined == list(host.quarantine)
    assert kept[0].payload == garbage and "not a Sparkplug B protobuf" in kept[0].reason
    assert host.quarantined_total == 1
    assert values(host.receive(DDATA, ddata(2), T0)) == [True]


def test_malformed_topics_and_messages_that_break_the_specification_are_quarantined():
    host = born_host()
    assert "must name a device" in host.receive(f"spBv1.0/{G}/DDATA/{E}", ddata(2), T0).quarantined[0].reason
    no_seq = Payload(timestamp=MS0)
    no_seq.metrics.add(alias=ALIAS["Inputs/A"]).boolean_value = True
    assert "without a sequence number" in host.receive(DDATA, no_seq.SerializeToString(), T0).quarantined[0].reason
    birth = Payload(timestamp=MS0, seq=0)
    out = SparkplugHost("mqtt").receive(NBIRTH, birth.SerializeToString(), T0)
    assert "NBIRTH without a bdSeq metric" in out.quarantined[0].reason and out.rebirths == []
    wrong = Payload(timestamp=MS0, seq=2)
    wrong.metrics.add(alias=ALIAS["Inputs/A"], timestamp=MS0).string_value = "on"
    out = host.receive(DDATA, wrong.SerializeToString(), T0)
    assert "a Boolean travels in boolean_value, not string_value" in out.quarantined[0].reason


def test_birth_metrics_without_name_or_datatype_or_with_a_taken_alias_are_quarantined():
    host = SparkplugHost("mqtt")
    host.receive(NBIRTH, nbirth(), T0)
    p = Payload(timestamp=MS0, seq=1)
    set_metric_value(p.metrics.add(alias=5, timestamp=MS0), DT["Boolean"], True)
    p.metrics.add(name="Untyped", alias=6).boolean_value = True
    set_metric_value(p.metrics.add(name="Clash", alias=1, timestamp=MS0), DT["Boolean"], True)
    set_metric_value(p.metrics.add(name="Fine", alias=7, timestamp=MS0), DT["Boolean"], True)
    out = host.receive(DBIRTH, p.SerializeToString(), T0)
    assert [s.tag for s in out.signals] == ["Clash", "Fine"]
    reason = out.quarantined[0].reason
    assert "without a name (alias 5)" in reason and "'Untyped' has no datatype" in reason
    assert "alias 1 of 'Clash' already names 'Supply Voltage' of the node" in reason


def test_quality_property_null_values_and_historical_values():
    host = born_host()
    p = Payload(timestamp=MS0, seq=2)
    m = p.metrics.add(alias=ALIAS["Inputs/A"], timestamp=MS0)
    m.boolean_value = True
    set_quality(m, Quality.BAD)
    p.metrics.add(alias=ALIAS["Inputs/B"], timestamp=MS0, is_null=True)
    p.metrics.add(alias=ALIAS["Inputs/C"], timestamp=MS0 - 60_000, is_historical=True).boolean_value = True
    p.metrics.add(alias=ALIAS["Inputs/D"], timestamp=MS0, is_transient=True).boolean_value = True
    out = host.receive(DDATA, p.SerializeToString(), T0)
    assert [(s.tag, s.value, s.quality) for s in out.signals] == [
        ("Inputs/A", True, Quality.BAD),
        ("Inputs/B", None, Quality.BAD),
        ("Inputs/C", True, Quality.GOOD),
    ]
    assert out.signals[2].ts == datetime(2017, 2, 3, 17, 54, 2, 122000, timezone.utc)
    assert out.skipped == [("Inputs/D", "transient: not to be stored")]


def test_template_instances_become_member_signals_and_other_structures_are_listed_as_skipped():
    host = SparkplugHost("mqtt")
    host.receive(NBIRTH, nbirth(), T0)
    p = Payload(timestamp=MS0, seq=1)
    t = Payload.Template(is_definition=False, template_ref="Motor")
    set_metric_value(t.metrics.add(name="Speed"), DT["Int32"], 1450)
    set_metric_value(t.metrics.add(name="Running"), DT["Boolean"], True)
    p.metrics.add(name="Motor 1", alias=20, timestamp=MS0, datatype=DT["Template"], template_value=t)
    set_metric_value(p.metrics.add(name="Profile", alias=21, timestamp=MS0), DT["FloatArray"], [1.0, 2.0])
    ds = Payload.DataSet(num_of_columns=1, columns=["a"], types=[DT["Int32"]])
    p.metrics.add(name="Recipe", alias=22, timestamp=MS0, datatype=DT["DataSet"], dataset_value=ds)
    set_metric_value(p.metrics.add(name="Started", alias=23, timestamp=MS0), DT["DateTime"], MS0)
    out = host.receive(DBIRTH, p.SerializeToString(), T0)
    assert [(s.tag, s.value) for s in out.signals] == [
        ("Motor 1/Speed", 1450),
        ("Motor 1/Running", True),
        ("Started", "2017-02-03T17:55:02.122000+00:00"),
    ]
    assert [name for name, _ in out.skipped] == ["Profile", "Recipe"]
    t.metrics[0].int_value = 1500
    d = Payload(timestamp=MS0 + 1, seq=2)
    d.metrics.add(alias=20, timestamp=MS0 + 1, template_value=t)
    assert [(s.tag, s.value) for s in host.receive(DDATA, d.SerializeToString(), T0).signals] == [
        ("Motor 1/Speed", 1500),
        ("Motor 1/Running", True),
    ]


def test_losing_the_broker_connection_marks_everything_stale_and_a_clean_session_forgets():
    host = born_host()
    out = host.connection_lost(T0)
    assert len(out.signals) == 14 and {s.quality for s in out.signals} == {Quality.STALE}
    assert values(host.receive(DDATA, ddata(2), T0)) == [True]  # a kept session goes on
    out = host.connection_lost(T0, forget=True)
    assert host.receive(DDATA, ddata(3), T0).rebirths == [(G, E)]
    assert host.rebirth_all(T0).rebirths == [(G, E)]  # asked again regardless of the spacing


def test_without_sequence_checking_every_message_is_applied_on_arrival():
    host = born_host(check_sequence=False)
    assert values(host.receive(DDATA, ddata(9), T0)) == [True]
    assert values(host.receive(DDATA, ddata(4), T0)) == [True]


def test_births_can_be_learned_without_being_emitted():
    host = SparkplugHost("mqtt", emit_births=False)
    host.receive(NBIRTH, nbirth(), T0)
    assert host.receive(DBIRTH, dbirth(), T0).signals == []
    assert values(host.receive(DDATA, ddata(2), T0)) == [True]


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 120), st.data())
def test_any_reordering_within_the_timeout_delivers_every_value_once_in_the_order_sent(count, data):
    host = born_host()
    start = data.draw(st.integers(0, 255))
    # Start the session's counter so that the messages below begin at ``start``.
    host.receive(NBIRTH, nbirth(seq=(start - 2) % 256), T0)
    host.receive(DBIRTH, dbirth(seq=(start - 1) % 256), T0)
    messages = [(start + i) % 256 for i in range(count)]
    order = data.draw(st.permutations(range(count)))
    received = []
    for i in order:
        out = host.receive(DDATA, ddata(messages[i], {"Inputs/A": i % 3 == 0, "Inputs/B": i % 2 == 0}), T0)
        assert out.rebirths == [] and out.quarantined == []
        received += [(s.source_id.split(":")[2], s.tag, s.value) for s in out.signals]
    expected = [
        (str(messages[i]), tag, value)
        for i in range(count)
        for tag, value in (("Inputs/A", i % 3 == 0), ("Inputs/B", i % 2 == 0))
    ]
    assert received == expected


# -- DATA decoded a column at a time ---------------------------------------------------------------------------
_KINDS = {  # datatype -> values of it
    "Double": st.floats(allow_nan=False, allow_infinity=False),
    "Boolean": st.booleans(),
    "String": st.text(max_size=8),
    "Int64": st.integers(-(2**63), 2**63 - 1),
    "Float": st.floats(width=32, allow_nan=False, allow_infinity=False),
}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_column_decoding_gives_exactly_what_metric_by_metric_decoding_gives(data):
    """Random births and DATA payloads (aliases or names, every datatype kind, own or payload timestamps, null,
    transient, a Quality property, an alias of another device, a value in the wrong field): the column path
    either declines or produces the same Signals, skips, quarantines and rebirth requests."""
    direct = ["Double", "Boolean", "String"]
    kinds = data.draw(st.lists(st.sampled_from(direct * 3 + ["Int64", "Float"]), min_size=1, max_size=6))
    other = data.draw(st.booleans())  # a second device, whose alias may turn up in the first one's DATA

    def births():
        out = [(NBIRTH, nbirth())]
        for device, offset in [(D, 100)] + ([("Other", 200)] if other else []):
            p = Payload(timestamp=MS0, seq=len(out))
            for i, kind in enumerate(kinds):
                m = p.metrics.add(name=f"m{i}", alias=offset + i, timestamp=MS0)
                set_metric_value(m, DT[kind], data.draw(_KINDS[kind]))
            out.append((f"spBv1.0/{G}/DBIRTH/{E}/{device}", p.SerializeToString()))
        return out

    born = births()
    payload = Payload(timestamp=data.draw(st.sampled_from([MS0 + 5, 0])), seq=len(born))
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(kinds) - 1))
        kind = kinds[i]
        by = data.draw(
            st.sampled_from(["alias", "alias", "alias", "name", "other alias"] if other else ["alias", "name"])
        )
        m = payload.metrics.add()
        if by == "name":
            m.name = f"m{i}"
        else:
            m.alias = (200 if by == "other alias" else 100) + i
        stamp = data.draw(st.sampled_from([None, MS0 + 7, MS0 + 9]))
        if stamp is not None:
            m.timestamp = stamp
        twist = data.draw(
            st.sampled_from(
                [""] * 8 + ["null", "transient", "bad quality", "wrong field", "empty name", "datatype", "historical"]
            )
        )
        if twist == "null":
            set_metric_value(m, DT[kind], None)
        elif twist == "wrong field":
            m.datatype = DT[kind]
            m.string_value = "x" if kind != "String" else m.string_value
            if kind == "String":
                m.double_value = 1.5
        else:
            set_metric_value(m, DT[kind], data.draw(_KINDS[kind]))
        if twist == "transient":
            m.is_transient = True
        if twist == "empty name" and by != "name":
            m.name = ""  # present, but empty: no name
        if twist == "datatype":
            m.datatype = DT[kind]
        if twist == "historical":
            m.is_historical = True
        if twist == "bad quality":
            set_quality(m, Quality.BAD)

    if data.draw(st.booleans()):
        payload.uuid, payload.body = "u", b"\x00\x01"  # read by no DATA path

    results = []
    # (columns, the C reader, SignalBlocks): C and blocks, C, protobuf columns, metric by metric.
    for columns, fast_reader, blocks in ((True, True, True), (True, True, False), (True, False, False), (False,) * 3):
        host = SparkplugHost("t")
        host.columns, host.blocks = columns, blocks
        for topic, body in born:
            host.receive(topic, body, T0)
        saved = host_module._plain_columns
        host_module._plain_columns = saved if fast_reader else None
        try:
            results.append(host.receive(DDATA, payload.SerializeToString(), T0))
        finally:
            host_module._plain_columns = saved
    slow = results[-1]
    for fast in results[:-1]:
        signals = expand_signals(fast.signals)
        assert signals == slow.signals
        assert [type(s) for s in signals] == [type(s) for s in slow.signals]
        assert fast.skipped == slow.skipped and fast.rebirths == slow.rebirths
        assert [q.reason for q in fast.quarantined] == [q.reason for q in slow.quarantined]


@pytest.mark.parametrize("reader", ["C", "protobuf"])
def test_a_plain_ddata_payload_is_decoded_a_column_at_a_time(reader, monkeypatch):
    """The case the column paths exist for (aliases, Booleans, the payload's timestamp) does take them: the C
    reader of plain payloads, or protobuf's decoding a column at a time where that reader is not built."""
    if reader == "protobuf":
        monkeypatch.setattr(host_module, "_plain_columns", None)
    else:
        assert host_module._plain_columns is not None, "the C reader (_plain.c) was not built at install"
    host = SparkplugHost("t")
    for topic, body in ((NBIRTH, nbirth()), (DBIRTH, dbirth())):
        host.receive(topic, body, T0)
    taken = []
    route = "_plain_from_reader" if reader == "C" else "_plain_data"
    plain = getattr(host, route)
    monkeypatch.setattr(host, route, lambda *args: taken.append(plain(*args)) or taken[-1])
    p = Payload(timestamp=MS0 + 1, seq=2)
    for name in PIBRELLA[:3]:
        set_metric_value(p.metrics.add(alias=ALIAS[name]), DT["Boolean"], True)
    out = host.receive(DDATA, p.SerializeToString(), T0)
    assert taken == [True]
    assert [(s.tag, s.value, s.quality) for s in out.signals] == [(n, True, Quality.GOOD) for n in PIBRELLA[:3]]

    # As one block: the same Signals, made only when asked for.
    host.blocks = True
    p.seq = 3
    (block,) = host.receive(DDATA, p.SerializeToString(), T0).signals
    assert isinstance(block, SignalBlock) and block.machine == D and len(block) == 3
    assert block.signals() == [s._replace(source_id=s.source_id.replace(":2:", ":3:")) for s in out.signals]
    assert block.ts == datetime.fromtimestamp((MS0 + 1) / 1000, timezone.utc)


def test_a_device_born_again_with_other_aliases_is_read_with_the_new_ones():
    """The plain path remembers each device's last alias list; a new DBIRTH (or NBIRTH) that gives an alias
    another metric or another type is followed at once, exactly as metric by metric."""

    def dbirth_with(seq, metrics):
        p = Payload(timestamp=MS0, seq=seq)
        for alias, (name, kind) in metrics.items():
            set_metric_value(p.metrics.add(name=name, alias=alias, timestamp=MS0), DT[kind], _ZERO[kind])
        return p.SerializeToString()

    def ddata(seq, values):
        p = Payload(timestamp=MS0 + seq, seq=seq)
        for alias, (kind, value) in values.items():
            set_metric_value(p.metrics.add(alias=alias), DT[kind], value)
        return p.SerializeToString()

    messages = [
        (NBIRTH, nbirth()),
        (DBIRTH, dbirth_with(1, {100: ("a", "Double"), 101: ("b", "Double")})),
        (DDATA, ddata(2, {100: ("Double", 1.0), 101: ("Double", 2.0)})),
        (DBIRTH, dbirth_with(3, {100: ("b", "Double"), 101: ("a", "Double")})),  # the names swap
        (DDATA, ddata(4, {100: ("Double", 3.0), 101: ("Double", 4.0)})),
        (DBIRTH, dbirth_with(5, {100: ("a", "Boolean"), 101: ("b", "Double")})),  # a type changes
        (DDATA, ddata(6, {100: ("Double", 5.0), 101: ("Double", 6.0)})),
        (DDATA, ddata(7, {100: ("Boolean", True), 101: ("Double", 7.0)})),
        (NBIRTH, nbirth(seq=0, bdseq=1)),  # a new session: no device, no alias
        (DDATA, ddata(1, {100: ("Boolean", True), 101: ("Double", 8.0)})),
    ]
    results = []
    for columns, blocks in ((True, True), (False, False)):
        host = SparkplugHost("t")
        host.columns, host.blocks = columns, blocks
        results.append([host.receive(t, body, T0) for t, body in messages])
    for fast, slow in zip(*results):
        assert expand_signals(fast.signals) == slow.signals
        assert [q.reason for q in fast.quarantined] == [q.reason for q in slow.quarantined]
        assert fast.rebirths == slow.rebirths
    data = [[(s.tag, s.value) for s in expand_signals(r.signals)] for r in results[0]]
    assert data[2] == [("a", 1.0), ("b", 2.0)] and data[4] == [("b", 3.0), ("a", 4.0)]
    assert data[6] == [("b", 6.0)] and data[7] == [("a", True), ("b", 7.0)] and data[9] == []


_ZERO = {"Double": 0.0, "Boolean": False}


def test_a_restored_session_decodes_what_the_broker_delivers_again_and_applies_each_message_once():
    """After a restart the broker delivers again the DATA it had not seen acknowledged, and the new host has
    seen no birth: the sessions committed with the last batch let it decode them at their own time."""
    import json

    first = born_host()
    first.receive(DDATA, ddata(2, {"Inputs/A": True}), T0)
    held = first.receive(DDATA, ddata(4, {"Inputs/A": False}), T0)  # 3 missing: held for the reorder timeout
    assert values(held) == []
    saved = json.loads(json.dumps(first.export_state()))  # as the store keeps it
    assert set(saved) == {f"sparkplug/{G}/{E}/session", f"sparkplug/{G}/{E}/birth"}
    assert first.export_state() == {}  # nothing changed since

    second = SparkplugHost("mqtt", reorder_timeout_s=2.0)
    second.restore_state(saved)
    again = second.receive(DDATA, ddata(2, {"Inputs/A": True}), T0)  # committed before the restart
    assert again.signals == [] and again.rebirths == [] and again.ignored == 1
    out = second.receive(DDATA, ddata(3, {"Inputs/A": True, "Inputs/B": True}), T0)
    # 3 is applied at its own time, then 4, which was held before the restart.
    assert [(s.tag, s.value, s.ts) for s in out.signals] == [
        ("Inputs/A", True, datetime(2017, 2, 3, 17, 55, 3, 125000, timezone.utc)),
        ("Inputs/B", True, datetime(2017, 2, 3, 17, 55, 3, 125000, timezone.utc)),
        ("Inputs/A", False, datetime(2017, 2, 3, 17, 55, 3, 126000, timezone.utc)),
    ]
    assert out.rebirths == [] and second.export_state()[f"sparkplug/{G}/{E}/session"]["last_seq"] == 4
