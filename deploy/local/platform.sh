#!/usr/bin/env bash
# `make up`: start Kafka and the store, then the four services, wait until each is ready,
# print the URLs and keep running until Ctrl-C, which stops everything this script started.
#
# Environment: KCC_<SERVICE>_PORT overrides a port; KCC_PLATFORM_MANAGE_STACK=0 uses a
# broker and store that are already running (and leaves them running). By default the traffic
# simulator (`kcc simulate --demo`) then feeds the platform and a live summary replaces the
# URL list every few seconds; KCC_DEMO=0 turns that off. KCC_DEMO_SPEED_UP (180: a working
# day's 07:00-19:00 in 4 minutes), KCC_DEMO_INHABITANTS (150000) and KCC_DEMO_SEED (1) tune it.
# Unless KCC_AUTH_* names the keys to trust, a development key pair and webhook secrets are
# made in $KCC_STACK_DIR/auth and a token per role is printed (python -m kcc_shared.devauth).
# Unless KCC_INTAKE_SMTP__RELAY_HOST names a real relay, a relay sink (deploy/local/relay_sink.py)
# on KCC_RELAY_SINK_PORT (2526) takes intake's outgoing mail and keeps it in $KCC_STACK_DIR/mail.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="$repo/.venv/bin/python"
logs="${KCC_STACK_DIR:-$repo/.stack/local}/logs"
manage_stack="${KCC_PLATFORM_MANAGE_STACK:-1}"
ready_timeout="${KCC_PLATFORM_READY_TIMEOUT:-180}"
services=(intake routing callback metrics)
declare -A default_port=([intake]=8001 [routing]=8002 [callback]=8003 [metrics]=8004 [desktop]=8000)
pids=()
demo_pid=""
sink_pid=""
stopping=0
demo="${KCC_DEMO:-1}"
# The local store is one Python process serving every service: a few connections per service
# keep it busy without queueing hundreds of requests inside it.
export KCC_MONGO_MAX_POOL_SIZE="${KCC_MONGO_MAX_POOL_SIZE:-4}"

[ -x "$python" ] || { echo "run 'make install' first" >&2; exit 1; }
mkdir -p "$logs"

auth_dir="${KCC_STACK_DIR:-$repo/.stack/local}/auth"
dev_keys=0
declare -A service_token=()
if [ -z "${KCC_AUTH_JWKS_FILE:-}${KCC_AUTH_JWKS_URL:-}${KCC_AUTH_PUBLIC_KEY_FILE:-}" ]; then
  dev_keys=1
  "$python" -m kcc_shared.devauth keygen --dir "$auth_dir" >/dev/null
  eval "$("$python" -m kcc_shared.devauth env --dir "$auth_dir")"
  mkdir -p "$auth_dir/tokens"
  while IFS=$'\t' read -r role token; do
    printf '%s\n' "$token" >"$auth_dir/tokens/${role/:/-}.jwt"
    case "$role" in service:*) service_token[${role#service:}]="$token" ;; esac
  done < <("$python" -m kcc_shared.devauth tokens --dir "$auth_dir")
  # The callback service asks intake's registry for numbers with its own token.
  export KCC_CALLBACK_REGISTRY_TOKEN="${KCC_CALLBACK_REGISTRY_TOKEN:-${service_token[callback]}}"
fi

port_of() { local var="KCC_${1^^}_PORT"; echo "${!var:-${default_port[$1]}}"; }
# The callback service asks intake's registry for the number behind a phone pseudonym.
export KCC_CALLBACK_REGISTRY_URL="${KCC_CALLBACK_REGISTRY_URL:-http://127.0.0.1:$(port_of intake)}"

stop_all() {
  trap - EXIT INT TERM
  set +e  # clean up everything, even if the terminal or a pipe is already gone
  stopping=1
  echo
  if [ -n "$demo_pid" ]; then
    echo "[platform] stopping the simulator"
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  echo "[platform] stopping services"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$sink_pid" ]; then kill -TERM "$sink_pid" 2>/dev/null || true; wait "$sink_pid" 2>/dev/null || true; fi
  if [ "$manage_stack" = 1 ]; then "$here/stack.sh" down; fi
  echo "[platform] stopped"
}
trap stop_all EXIT
trap '' PIPE  # a closed stdout (e.g. `| tee` hit by Ctrl-C) must not abort the clean-up
trap 'exit 130' INT TERM

if [ "$manage_stack" = 1 ]; then "$here/stack.sh" up; fi

mail_dir="${KCC_STACK_DIR:-$repo/.stack/local}/mail"
if [ -z "${KCC_INTAKE_SMTP__RELAY_HOST:-}" ]; then
  export KCC_INTAKE_SMTP__RELAY_PORT="${KCC_RELAY_SINK_PORT:-2526}"
  setsid "$python" "$here/relay_sink.py" --port "$KCC_INTAKE_SMTP__RELAY_PORT" --dir "$mail_dir" >"$logs/relay-sink.log" 2>&1 </dev/null &
  sink_pid=$!
  echo "[platform] started the relay sink (pid $!, smtp port $KCC_INTAKE_SMTP__RELAY_PORT, mail kept in $mail_dir)"
fi

started=$SECONDS
for s in "${services[@]}"; do
  # Own session: Ctrl-C reaches this script only, which then stops the services in order.
  KCC_AUTH_SERVICE_TOKEN="${service_token[$s]:-${KCC_AUTH_SERVICE_TOKEN:-}}" \
    setsid "$python" -m "kcc_$s" >"$logs/$s.log" 2>&1 </dev/null &
  pids+=($!)
  echo "[platform] started $s (pid $!, port $(port_of "$s"), log $logs/$s.log)"
done

# The agent desktop (frontend/): the static app, forwarding /api/<service>/ to the services.
export KCC_DESKTOP_PORT="$(port_of desktop)"
for s in "${services[@]}"; do export "KCC_DESKTOP_${s^^}_URL=http://127.0.0.1:$(port_of "$s")"; done
if [ "$dev_keys" = 1 ]; then export KCC_DESKTOP_DEV_TOKENS_DIR="$auth_dir/tokens"; fi
setsid "$python" -m kcc_desktop >"$logs/desktop.log" 2>&1 </dev/null &
pids+=($!)
echo "[platform] started desktop (pid $!, port $(port_of desktop), log $logs/desktop.log)"
services+=(desktop)

for s in "${services[@]}"; do
  url="http://127.0.0.1:$(port_of "$s")/readyz"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ]; do
    if [ $((SECONDS - started)) -ge "$ready_timeout" ]; then
      echo "[platform] $s not ready after ${ready_timeout}s; last log lines:" >&2
      tail -20 "$logs/$s.log" >&2
      exit 1
    fi
    sleep 0.5
  done
done

cat <<EOF2

Contact.STAD is running (ready in $((SECONDS - started)) s). Ctrl-C stops everything.

  desktop   http://127.0.0.1:$(port_of desktop)/          the agent desktop: agent, department and wallboard screens (sign in with a token below)
  intake    http://127.0.0.1:$(port_of intake)/docs     post contacts: POST /v1/channels/web/submissions
  routing   http://127.0.0.1:$(port_of routing)/docs     classify:      POST /v1/classify, queues: GET /v1/queues
  callback  http://127.0.0.1:$(port_of callback)/docs     call-backs:    GET  /v1/callbacks/{callback_id}, due: GET /v1/departments/{id}/callbacks/due-today
  metrics   http://127.0.0.1:$(port_of metrics)/docs     counts:        GET  /v1/counts/daily
  e-mail    smtp://127.0.0.1:${KCC_INTAKE_SMTP__PORT:-2525}  (mail for info@, kcc@, belastingen@groningen.nl)
  outgoing  ${KCC_INTAKE_SMTP__RELAY_HOST:-relay sink smtp://127.0.0.1:${KCC_INTAKE_SMTP__RELAY_PORT:-2526}, kept in $mail_dir/*.eml}
  probes    /healthz  /readyz  /metrics on every service
  Kafka     ${KCC_KAFKA_BOOTSTRAP:-127.0.0.1:9092}      store  mongodb://127.0.0.1:${KCC_MONGO_PORT:-27017}
  logs      $logs/

EOF2

if [ "$dev_keys" = 1 ]; then
  echo "Tokens (development keys in $auth_dir, valid 12 h; also in $auth_dir/tokens/<role>.jwt):"
  for f in "$auth_dir"/tokens/*.jwt; do
    role="$(basename "$f" .jwt)"
    case "$role" in service-*) continue ;; esac
    printf '  %-24s %s\n' "${role/-/:}" "$(cat "$f")"
  done
  cat <<EOF2

Try it:
  curl -s -XPOST http://127.0.0.1:$(port_of intake)/v1/channels/web/submissions -H 'content-type: application/json' \\
    -H "Authorization: Bearer \$(cat $auth_dir/tokens/integrator-web.jwt)" \\
    -d '{"form_id":"contactformulier","subject":"Paspoort","message":"Mijn paspoort is verlopen."}'
  curl -s http://127.0.0.1:$(port_of metrics)/v1/counts/daily -H "Authorization: Bearer \$(cat $auth_dir/tokens/ops.jwt)"
EOF2
else
  echo "Tokens: keys configured through KCC_AUTH_* (no development tokens printed)"
fi

if [ "$demo" != 0 ]; then
  # The simulator plays every channel system, the KCC agents, the back-offices (presence, as
  # admin) and ops reading the figures: one development token with those roles.
  if [ "$dev_keys" = 1 ] && [ -z "${KCC_TOKEN:-}" ]; then
    KCC_TOKEN="$("$python" -m kcc_shared.devauth token --dir "$auth_dir" --sub simulator \
      --role agent --role ops --role admin --role integrator:telephone --role integrator:email --role integrator:web \
      --role integrator:counter --role integrator:letter --role integrator:social)"
    export KCC_TOKEN
  elif [ -z "${KCC_TOKEN:-}" ]; then
    echo "[platform] KCC_AUTH_* names your own keys: set KCC_TOKEN (roles agent, ops, admin, integrator:<channel>) for the simulator, or its calls get 401" >&2
  fi
  # Own session like the services: Ctrl-C reaches this script, which stops the simulator first.
  setsid "$python" -m kcc_cli simulate --demo \
    --speed-up "${KCC_DEMO_SPEED_UP:-180}" --inhabitants "${KCC_DEMO_INHABITANTS:-150000}" --seed "${KCC_DEMO_SEED:-1}" \
    --intake-url "http://127.0.0.1:$(port_of intake)" --routing-url "http://127.0.0.1:$(port_of routing)" \
    --callback-url "http://127.0.0.1:$(port_of callback)" --metrics-url "http://127.0.0.1:$(port_of metrics)" \
    2>"$logs/simulate.log" </dev/null &
  demo_pid=$!
  echo
  echo "[platform] started the traffic simulator (pid $demo_pid, log $logs/simulate.log); a live summary follows (KCC_DEMO=0 turns it off)"
fi

# Wait for Ctrl-C; if a service dies, say so and stop the rest.
while true; do
  for i in "${!pids[@]}"; do
    if [ "$stopping" = 0 ] && ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "[platform] ${services[$i]} exited; see $logs/${services[$i]}.log" >&2
      exit 1
    fi
  done
  if [ "$stopping" = 0 ] && [ -n "$demo_pid" ] && ! kill -0 "$demo_pid" 2>/dev/null; then
    echo "[platform] the simulator stopped; see $logs/simulate.log (the services keep running)" >&2
    demo_pid=""
  fi
  sleep 1
done
