"""Sparkplug B topic namespace: the specification's topic examples and host subscriptions, and each rule.

Source: Eclipse Sparkplug 3.0, chapter 4 "Topics and Messages" (Sparkplug_4_Topics.adoc,
https://github.com/eclipse-sparkplug/sparkplug), summarised in reference README section 6, SPB-01.
"""

import re

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopfloor.connectors.sparkplug.topics import (
    DEVICE_MESSAGE_TYPES,
    NODE_MESSAGE_TYPES,
    TopicError,
    node_topic,
    parse_topic,
    state_topic,
)


def test_the_specification_topic_examples():
    t = parse_topic("spBv1.0/Sparkplug B Devices/NBIRTH/Raspberry Pi")
    assert (t.group, t.message_type, t.edge_node, t.device) == ("Sparkplug B Devices", "NBIRTH", "Raspberry Pi", None)
    assert t.node == ("Sparkplug B Devices", "Raspberry Pi")
    t = parse_topic("spBv1.0/Sparkplug B Devices/DBIRTH/Raspberry Pi/Pibrella")
    assert (t.group, t.message_type, t.edge_node, t.device) == (
        "Sparkplug B Devices",
        "DBIRTH",
        "Raspberry Pi",
        "Pibrella",
    )
    assert str(t) == "spBv1.0/Sparkplug B Devices/DBIRTH/Raspberry Pi/Pibrella"


def test_host_state_topic():
    t = parse_topic("spBv1.0/STATE/scada-1")
    assert (t.message_type, t.host_id, t.group) == ("STATE", "scada-1", None)
    assert state_topic("scada-1") == "spBv1.0/STATE/scada-1"


@pytest.mark.parametrize(
    "topic, reason",
    [
        ("spAv1.0/G/NDATA/E", "namespace"),
        ("spBv1.0/G/DDATA/E", "must name a device"),
        ("spBv1.0/G/DBIRTH/E", "must name a device"),
        ("spBv1.0/G/NBIRTH/E/D", "must not name a device"),
        ("spBv1.0/G/NCMD/E/D", "must not name a device"),
        ("spBv1.0/G/XDATA/E", "not a Sparkplug message type"),
        ("spBv1.0/G", "must be spBv1.0/<group>"),
        ("spBv1.0/G/DDATA/E/D/extra", "must be spBv1.0/<group>"),
        ("spBv1.0/G+/NDATA/E", "group id 'G+' must not contain '+'"),
        ("spBv1.0/G/NDATA/E#", "edge node id"),
        ("spBv1.0//NDATA/E", "group id must be a non-empty"),
        ("spBv1.0/G/DDATA/E/", "device id must be a non-empty"),
        ("spBv1.0/STATE", "host state topic is spBv1.0/STATE/<host_id>"),
        ("spBv1.0/STATE/h/x", "host state topic is spBv1.0/STATE/<host_id>"),
        ("spBv1.0/G/NDATA/E\x00", "must not contain '\\x00'"),
    ],
)
def test_topics_that_break_a_rule_are_refused_with_the_rule(topic, reason):
    with pytest.raises(TopicError, match=re.escape(reason)):
        parse_topic(topic)


def test_the_host_subscriptions_of_the_specification_match_the_topics_they_should():
    nbirth = node_topic("Group1", "NBIRTH", "EdgeNode1")
    ddata = node_topic("Group1", "DDATA", "EdgeNode1", "Device1")
    other = node_topic("Group2", "DDATA", "EdgeNode2", "Device1")
    assert all(mqtt.topic_matches_sub("spBv1.0/#", t) for t in (nbirth, ddata, other))
    assert [mqtt.topic_matches_sub("spBv1.0/Group1/#", t) for t in (nbirth, ddata, other)] == [True, True, False]
    sub = "spBv1.0/Group1/+/EdgeNode1/#"
    assert [mqtt.topic_matches_sub(sub, t) for t in (nbirth, ddata, other)] == [True, True, False]


def test_building_a_topic_checks_every_id():
    with pytest.raises(TopicError, match="must name a device"):
        node_topic("G", "DDATA", "E")
    with pytest.raises(TopicError, match="must not name a device"):
        node_topic("G", "NDATA", "E", "D")
    with pytest.raises(TopicError, match="device id 'a/b'"):
        node_topic("G", "DCMD", "E", "a/b")
    with pytest.raises(TopicError, match="not an edge node or device message type"):
        node_topic("G", "STATE", "E")


ids = st.text(st.characters(blacklist_characters="+/#\x00", blacklist_categories=("Cs",)), min_size=1, max_size=20)


@given(ids, st.sampled_from(NODE_MESSAGE_TYPES + DEVICE_MESSAGE_TYPES), ids, ids)
def test_any_valid_ids_round_trip(group, message_type, edge, device):
    device = device if message_type in DEVICE_MESSAGE_TYPES else None
    topic = node_topic(group, message_type, edge, device)
    parsed = parse_topic(topic)
    assert (parsed.group, parsed.message_type, parsed.edge_node, parsed.device) == (group, message_type, edge, device)
    assert str(parsed) == topic
