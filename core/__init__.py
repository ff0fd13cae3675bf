"""The ground floor: errors, the generic HTTP client, time helpers and warehouse access.

Nothing here imports sources/, destinations/ or pipelines/; every layer above may import it.
"""
