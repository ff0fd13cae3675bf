"""The reverse step: warehouse rows → Clarify, in bulk, sending only what changed.

Modules: `schema` (GET /schemas → attributes, unique field), `convert` (values → API shapes, local checks),
`diff` (fingerprint and change detection in SQL), `state` (state and rejects tables), `batching` (bulk
requests, bisecting atomic rejections, adaptive size), `api` (the write calls over the shared client),
`warehouse_sql` (DuckDB/Postgres access), `runner` (the push end to end). Entry point: `pipelines.push`.
"""
