"""`python -m emulator`: the same command as `clarify-sync emulator`, with the same options and errors."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from pipelines.cli import app

    app(
        ["emulator", *(sys.argv[1:] if argv is None else argv)], prog_name="python -m"
    )  # usage reads `python -m emulator [OPTIONS]`


if __name__ == "__main__":
    main()
