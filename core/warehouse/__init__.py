"""One way into the warehouse: options, the dlt pipeline, locks, SQL and Delta access."""
