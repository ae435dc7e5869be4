#!/usr/bin/env bash
# The real local stack without Docker: an Apache Kafka 4.1 broker (KRaft, single node) from
# Maven Central jars and SecantusDB (a single-node MongoDB server on WiredTiger, from PyPI,
# pinned with hashes in secantusdb/requirements.txt), run as plain local processes.
#
#   stack.sh install          fetch what is missing into the cache (idempotent)
#   stack.sh up               install, start Kafka and the store, wait until both are ready
#   stack.sh down             stop both cleanly (SIGTERM, then SIGKILL after a grace period)
#   stack.sh status           show what runs
#   stack.sh reset            down, then delete the data directory
#   stack.sh kafka-up|kafka-down|store-up|store-down   one server only
#
# Environment (all optional):
#   KCC_CACHE_DIR   downloaded jars and the store's environment (default ~/.cache/contact-stad)
#   KCC_STACK_DIR   data, logs and pid files            (default <repo>/.stack/local)
#   KCC_KAFKA_PORT  broker port (controller = port+1)   (default 9092)
#   KCC_MONGO_PORT  store port                          (default 27017)
#   KCC_STORE_CACHE the store's WiredTiger cache        (default 512M)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

KAFKA_VERSION=4.1.1
SECANTUS_VERSION=0.7.0b3
CACHE_DIR="${KCC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/contact-stad}"
STACK_DIR="${KCC_STACK_DIR:-$repo/.stack/local}"
KAFKA_PORT="${KCC_KAFKA_PORT:-9092}"
CONTROLLER_PORT=$((KAFKA_PORT + 1))
MONGO_PORT="${KCC_MONGO_PORT:-27017}"
KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
SECANTUS_ENV="$CACHE_DIR/secantusdb-$SECANTUS_VERSION"
SECANTUS_REQUIREMENTS="$here/secantusdb/requirements.txt"
# A fixed cluster id: formatting needs no second JVM start and the id cannot begin with '-'.
CLUSTER_ID="S0NDLUNvbnRhY3RTVEFEAA"

log() { printf '[stack] %s\n' "$*" >&2 || true; }  # a closed terminal must not abort a stop
die() { log "error: $*"; exit 1; }

install_kafka() {
  if [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$KAFKA_LIBS/.complete" ]; then
    return
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the Kafka jars"
  log "fetching Apache Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  mvn -q -B -Dstyle.color=never -f "$here/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >&2
  touch "$KAFKA_LIBS/.complete"
}

install_store() {
  # The store runs from its own environment: a separate (GPL-2.0) server process that none of
  # our packages imports. The hash-pinned requirements decide what is installed.
  local stamp="$SECANTUS_ENV/.complete"
  if [ -x "$SECANTUS_ENV/bin/secantusd-py" ] && [ -f "$stamp" ] && cmp -s "$stamp" "$SECANTUS_REQUIREMENTS"; then
    return
  fi
  command -v python3.11 >/dev/null || die "Python 3.11 is needed for the local store"
  log "installing SecantusDB $SECANTUS_VERSION into $SECANTUS_ENV"
  rm -rf "$SECANTUS_ENV"
  python3.11 -m venv "$SECANTUS_ENV" >&2
  "$SECANTUS_ENV/bin/pip" install -q --disable-pip-version-check --require-hashes \
    -r "$SECANTUS_REQUIREMENTS" >&2 || die "installing SecantusDB failed"
  cp "$SECANTUS_REQUIREMENTS" "$stamp"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_kafka_config() {
  local dir="$1"
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
log.dirs=$dir/data
num.partitions=1
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# Services create their topics explicitly from the catalogue.
auto.create.topics.enable=false
log.retention.hours=168
log.segment.bytes=67108864
EOF
  cat >"$dir/log4j2.yaml" <<EOF
Configuration:
  Appenders:
    File:
      name: file
      fileName: "$dir/logs/server.log"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: file
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
EOF
}

kafka_up() {
  install_kafka
  local dir="$STACK_DIR/kafka"
  if pid_alive "$dir/pid"; then log "kafka already running (pid $(cat "$dir/pid"))"; return; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process"
  write_kafka_config "$dir"
  local java_opts=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$dir/log4j2.yaml"
    -cp "$KAFKA_LIBS/*")
  if [ ! -f "$dir/data/meta.properties" ]; then
    log "formatting Kafka storage in $dir/data"
    java "${java_opts[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
      -c "$dir/server.properties" --standalone >"$dir/logs/format.log" 2>&1 \
      || { cat "$dir/logs/format.log" >&2; die "formatting Kafka storage failed"; }
  fi
  : >"$dir/logs/server.log"
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  # setsid: a Ctrl-C in the terminal must not reach the servers; `down` stops them in order.
  setsid nohup java "${java_opts[@]}" kafka.Kafka "$dir/server.properties" \
    >"$dir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  local deadline=$((SECONDS + ${KCC_STACK_TIMEOUT:-120}))
  until grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null; do
    pid_alive "$dir/pid" || { tail -n 20 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2; die "Kafka exited"; }
    [ $SECONDS -lt $deadline ] || die "Kafka not ready in time, see $dir/logs"
    sleep 0.5
  done
  log "kafka ready"
}

store_ping() {
  "$SECANTUS_ENV/bin/python" - "$MONGO_PORT" <<'PY' >/dev/null 2>&1
import sys
from pymongo import MongoClient
port = int(sys.argv[1])
client = MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=1000)
client.admin.command("ping")
PY
}

store_up() {
  install_store
  local dir="$STACK_DIR/store"
  if pid_alive "$dir/pid"; then log "store already running (pid $(cat "$dir/pid"))"; return; fi
  port_open "$MONGO_PORT" && die "port $MONGO_PORT is taken by another process"
  mkdir -p "$dir/data" "$dir/logs"
  # A small oplog: nothing here reads change streams. (TTL indexes are swept every 60 s, as
  # MongoDB does; 0.7.0b3's launcher does not pass the file's ttl_sweep_seconds on.)
  printf '[storage]\ncache_size = "%s"\n\n[oplog]\nretention_seconds = 600\nmax_entries = 20000\n' \
    "${KCC_STORE_CACHE:-512M}" >"$dir/secantusd.toml"
  log "starting SecantusDB $SECANTUS_VERSION on 127.0.0.1:$MONGO_PORT (WiredTiger in $dir/data)"
  setsid nohup "$SECANTUS_ENV/bin/secantusd-py" --config "$dir/secantusd.toml" --host 127.0.0.1 \
    --port "$MONGO_PORT" --storage-path "$dir/data" --log-level WARNING \
    >"$dir/logs/store.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  local deadline=$((SECONDS + ${KCC_STACK_TIMEOUT:-120}))
  # Ready when a real command answers, not merely when the port accepts.
  until store_ping; do
    pid_alive "$dir/pid" || { tail -n 20 "$dir/logs/store.log" >&2; die "the store exited"; }
    [ $SECONDS -lt $deadline ] || die "the store was not ready in time, see $dir/logs"
    sleep 0.3
  done
  log "store ready"
}

stop_pid() {
  local name="$1" pidfile="$2"
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return; fi
  local pid
  pid="$(cat "$pidfile")"
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + ${KCC_STOP_GRACE:-30}))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then log "$name did not stop in time, killing"; kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

status() {
  local name
  for name in kafka store; do
    if pid_alive "$STACK_DIR/$name/pid"; then
      echo "$name: running (pid $(cat "$STACK_DIR/$name/pid"))"
    else
      echo "$name: stopped"
    fi
  done
}

case "${1:-}" in
  install) install_kafka; install_store ;;
  up) install_kafka; install_store; store_up; kafka_up ;;
  down) stop_pid kafka "$STACK_DIR/kafka/pid"; stop_pid store "$STACK_DIR/store/pid" ;;
  kafka-up) kafka_up ;;
  kafka-down) stop_pid kafka "$STACK_DIR/kafka/pid" ;;
  store-up) store_up ;;
  store-down) stop_pid store "$STACK_DIR/store/pid" ;;
  status) status ;;
  reset)
    stop_pid kafka "$STACK_DIR/kafka/pid"; stop_pid store "$STACK_DIR/store/pid"
    log "deleting $STACK_DIR"; rm -rf "$STACK_DIR" ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
