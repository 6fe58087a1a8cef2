"""The hub: program office, sponsors and member factories sharing verified outcomes (``shopfloor serve --hub``)."""
