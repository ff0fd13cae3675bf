"""One way into the warehouse: options, the dlt pipeline, locks, SQL and Delta access."""

# dlt's hard-delete marker column: a row carrying True removes the stored row (sources write it, the lake reads it).
DELETED_COLUMN = "_deleted"
