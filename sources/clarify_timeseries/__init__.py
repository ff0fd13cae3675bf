"""Clarify time series: the dlt source (`source.py`) and the JSON-RPC pieces it is built from.

Nothing is imported here, so `settings` (the CLI's defaults) loads without dlt: `clarify-sync --help` stays fast.
"""
