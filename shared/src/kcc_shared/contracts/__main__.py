"""`python -m kcc_shared.contracts asyncapi|schemas [--out PATH]`: write the contract documents."""

import argparse
import json
import sys
from pathlib import Path

import yaml

from kcc_shared.contracts.docs import asyncapi, json_schemas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kcc-contracts", description=__doc__)
    parser.add_argument("document", choices=["asyncapi", "schemas"])
    parser.add_argument("--out", type=Path, help="file (asyncapi) or folder (schemas); default stdout")
    args = parser.parse_args(argv)
    if args.document == "asyncapi":
        text = yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True, width=100)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
            print(f"wrote {args.out}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    schemas = json_schemas()
    if not args.out:
        json.dump(schemas, sys.stdout, indent=2, ensure_ascii=False)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for event_type, schema in schemas.items():
        path = args.out / f"{event_type}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(schemas)} schemas to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
