"""Where a bench variant's sync lands: its own DuckDB file, or its own schema of one Postgres database.

    make bench ARGS='--destination postgres'                      (BENCH_DESTINATION=postgres)
    make bench ARGS='--destination postgres --postgres-dsn DSN'   (BENCH_POSTGRES_DSN; default the local server)

Both variants load into the same warehouse kind, each into a place of its own (`<variant>.duckdb`, schema
`<prefix>_<variant>`, prefix `bench` unless `--postgres-prefix` says otherwise), wiped before every measured
full sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import remove

DESTINATIONS = ("duckdb", "postgres")
# dlt's postgres destination insists on a password: an empty one serves the local server's trust auth.
DEFAULT_POSTGRES_DSN = "postgresql://postgres:@127.0.0.1:5432/test"
DUCKDB_DATASET = "clarify"


@dataclass(frozen=True)
class BenchWarehouse:
    destination: str
    out: Path
    postgres_dsn: str = DEFAULT_POSTGRES_DSN
    postgres_prefix: str = "bench"

    def dataset(self, variant: str) -> str:
        return DUCKDB_DATASET if self.destination == "duckdb" else f"{self.postgres_prefix}_{variant}"

    def path(self, variant: str) -> Path:
        return self.out / f"{variant}.duckdb"

    def flags(self, variant: str) -> list[str]:
        """Where `clarify-sync sync` and the baseline write this variant (both take the same flags)."""
        if self.destination == "duckdb":
            return ["--duckdb-path", str(self.path(variant))]
        return ["--destination", "postgres", "--postgres-dsn", self.postgres_dsn, "--dataset", self.dataset(variant)]

    def reset(self, variant: str) -> None:
        """Nothing of this variant's earlier syncs is left."""
        if self.destination == "duckdb":
            remove(self.path(variant))
            return
        dataset = self.dataset(variant)
        self._postgres(f'DROP SCHEMA IF EXISTS "{dataset}" CASCADE; DROP SCHEMA IF EXISTS "{dataset}_staging" CASCADE')

    def query(self, variant: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of `sql` against the variant's warehouse (`%s` placeholders, `{ds}` for its dataset); none when it
        does not exist yet."""
        sql = sql.replace("{ds}", f'"{self.dataset(variant)}"')
        if self.destination == "postgres":
            return self._postgres(sql, params)
        import duckdb

        if not self.path(variant).exists():
            return []
        with duckdb.connect(str(self.path(variant)), read_only=True) as con:
            return con.execute(sql.replace("%s", "?"), list(params)).fetchall()

    def _postgres(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg2

        con = psycopg2.connect(self.postgres_dsn)
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            con.close()
