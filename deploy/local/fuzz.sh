#!/usr/bin/env bash
# `make fuzz`: schemathesis against each service's OpenAPI document, authenticated (a token
# with every role; webhook requests signed), on the local stack. Fails if any response is a 5xx.
#
# Environment: KCC_FUZZ_MAX_EXAMPLES (default 30) cases per operation and phase;
# KCC_<SERVICE>_PORT as for `make up` (defaults 8101-8104 here, to run beside `make up`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="$repo/.venv/bin/python"
stack_dir="${KCC_STACK_DIR:-$repo/.stack/local}"
auth_dir="$stack_dir/auth-fuzz"
out="$stack_dir/fuzz"
mkdir -p "$out"
read -r -a services <<<"${KCC_FUZZ_SERVICES:-intake routing callback metrics}"  # a subset: KCC_FUZZ_SERVICES="metrics"
declare -A port=([intake]=${KCC_INTAKE_PORT:-8101} [routing]=${KCC_ROUTING_PORT:-8102} [callback]=${KCC_CALLBACK_PORT:-8103} [metrics]=${KCC_METRICS_PORT:-8104})

"$here/stack.sh" up
"$python" -m kcc_shared.devauth keygen --dir "$auth_dir" >/dev/null
eval "$("$python" -m kcc_shared.devauth env --dir "$auth_dir")"
roles=(agent ops admin service:fuzz department:burgerzaken integrator:telephone integrator:email integrator:web
       integrator:counter integrator:letter integrator:social)
export KCC_FUZZ_TOKEN="$("$python" -m kcc_shared.devauth token --dir "$auth_dir" --sub fuzz --ttl 7200 "${roles[@]/#/--role=}")"
export KCC_INTAKE_RATE_LIMIT__PER_SECOND=100000 KCC_INTAKE_RATE_LIMIT__BURST=100000
for s in "${services[@]}"; do export "KCC_${s^^}_PORT=${port[$s]}" "KCC_${s^^}_MONGO_DATABASE=fuzz_$s"; done
export KCC_INTAKE_SMTP__PORT=0 KCC_INTAKE_SMTP__ACKNOWLEDGE=false KCC_DEMO=0  # no simulated traffic beside the fuzzer

platform_log="$out/platform.log"
KCC_PLATFORM_MANAGE_STACK=0 "$here/platform.sh" >"$platform_log" 2>&1 &
platform=$!
trap 'kill -TERM $platform 2>/dev/null; wait $platform 2>/dev/null || true' EXIT
until grep -q "Contact.STAD is running" "$platform_log"; do
  kill -0 $platform 2>/dev/null || { cat "$platform_log" >&2; exit 1; }
  sleep 1
done

failed=0
for s in "${services[@]}"; do
  echo "=== $s"
  if ! PYTHONPATH="$here" SCHEMATHESIS_HOOKS=fuzz_hooks "$repo/.venv/bin/schemathesis" --no-color run \
    "http://127.0.0.1:${port[$s]}/openapi.json" --checks not_a_server_error \
    --max-examples "${KCC_FUZZ_MAX_EXAMPLES:-30}" --workers 1 --seed "${KCC_FUZZ_SEED:-7}" \
    2>&1 | tee "$out/$s.txt" | tail -25; then
    failed=1
  fi
  # What the service answered, from its own request histogram (by status code).
  curl -s "http://127.0.0.1:${port[$s]}/metrics" | "$python" -c '
import collections, re, sys
counts = collections.Counter()
for line in sys.stdin:
    m = re.match(r"kcc_http_request_duration_seconds_count\{.*route=\"(?!/metrics|/openapi)[^\"]*\".*status=\"(\d+)\"\} (\S+)", line)
    if m:
        counts[m[1]] += int(float(m[2]))
print("responses by status:", dict(sorted(counts.items())), "5xx:", sum(v for k, v in counts.items() if k[0] == "5"))
'
done
echo "full output in $out/<service>.txt"
exit $failed
