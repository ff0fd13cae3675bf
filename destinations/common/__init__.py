"""What the CRM push and the time-series push share: their bookkeeping tables and fingerprints."""
