"""`python -m emulator`: the same command as `clarify-sync emulator`, with the same options and errors."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from pipelines.cli.app import run

    # prog_name "python -m" makes the usage line read `python -m emulator [OPTIONS]`.
    run(["emulator", *(sys.argv[1:] if argv is None else argv)], prog_name="python -m")


if __name__ == "__main__":
    main()
