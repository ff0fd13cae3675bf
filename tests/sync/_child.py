"""Run one sync in a separate process (crash and concurrency tests): `python -m tests.sync._child JSON`."""

from __future__ import annotations

import json
import sys

from core.errors import ClarifySyncError
from core.http import RetryPolicy
from core.warehouse.options import WarehouseOptions
from pipelines.sync import run_sync
from sources.clarify.connection import ClarifyConnection


def main() -> int:
    args = json.loads(sys.argv[1])
    conn = ClarifyConnection(args["base_url"], args["workspace"], args["api_key"])
    wh = WarehouseOptions(**args["warehouse"])
    try:
        report = run_sync(
            conn,
            wh,
            lock_timeout=args.get("lock_timeout", 10.0),
            reconcile=args.get("reconcile", False),
            page_limit=args.get("page_limit", 500),
            parallel=args.get("parallel", False),
            retry=RetryPolicy(**args["retry"]) if "retry" in args else None,
            transcripts=args.get("transcripts"),
        )
    except ClarifySyncError as exc:
        print(f"error: {exc}", flush=True)
        return exc.exit_code
    print(f"ok {report.records}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
