"""The reverse step: warehouse rows → Clarify, in bulk, sending only what changed.

Modules: `convert` (values → API shapes, local checks), `diff` (fingerprint and change detection in SQL),
`state` (state and rejects tables), `batching` (bulk requests, bisecting atomic rejections, adaptive size),
`match` (rows of records the synced copy holds become PATCHes), `dialect` (with `match_on` or without, learnt
per workspace), `duplicates` (a create refused as a duplicate is looked up and updated), `runner` (the push end
to end); warehouse access is `core.warehouse.sql`. Entry point: `pipelines.push`.
The schema (`GET /schemas` → attributes, unique field) and the HTTP calls are the sync's: `sources.clarify.schema`
and `sources.clarify.api.ClarifyApi` (one parser, one client, one set of error messages).
"""
