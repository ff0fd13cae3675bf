"""Clarify CRM: the dlt source (`source.py`) and the pieces it is built from.

Nothing is imported here, so the parts that need no dlt (`api`, `freshness`, `cursor`, `pagination`) load
without it: a cron run where nothing changed answers in a fraction of dlt's import time (`pipelines/noop_probe.py`).
"""
