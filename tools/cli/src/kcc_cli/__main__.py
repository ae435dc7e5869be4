"""`kcc`: the operator's and demo command line. It talks to the platform only through its
public HTTP APIs and Kafka topics; it never imports a service.

Each subcommand lives in its own module with `add_parser(subparsers)`, which registers the
command and sets `handler` (a function of the parsed arguments returning an exit code).
"""

import argparse
import importlib
import sys

COMMANDS = ("dlq", "simulate", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kcc", description="Contact.STAD command line")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"kcc_cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"kcc_cli.{name}":
                raise
            continue  # not built yet
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
