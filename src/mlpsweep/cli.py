"""``python -m mlpsweep <stage> …``: every workflow stage, callable without Snakemake."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlpsweep", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mlpsweep {__version__}")
    parser.add_subparsers(dest="command", metavar="STAGE")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.func(args)
