"""shopfloor: an open smart-factory system (MES, shop-floor terminal, machine data, lots, SPC, ISO 22400 KPIs)."""

__version__ = "0.1.0"
