"""Sparkplug B 3.0 (Eclipse Sparkplug specification): payload schema, codec, topics, host session, edge node."""
