#!/usr/bin/env bash
# The real local stack without Docker: an Apache Kafka 4.1 broker (KRaft, single node) from
# Maven Central jars and FerretDB 1.24 (MongoDB wire protocol, SQLite storage) built from the
# Go module proxy, run as plain local processes.
#
#   stack.sh install          fetch/build what is missing into the cache (idempotent)
#   stack.sh up               install, start Kafka and FerretDB, wait until both are ready
#   stack.sh down             stop both cleanly (SIGTERM, then SIGKILL after a grace period)
#   stack.sh status           show what runs
#   stack.sh reset            down, then delete the data directory
#   stack.sh kafka-up|kafka-down|ferret-up|ferret-down   one server only
#
# Environment (all optional):
#   KCC_CACHE_DIR   downloaded jars and built binaries  (default ~/.cache/contact-stad)
#   KCC_STACK_DIR   data, logs and pid files            (default <repo>/.stack/local)
#   KCC_KAFKA_PORT  broker port (controller = port+1)   (default 9092)
#   KCC_MONGO_PORT  FerretDB port                       (default 27017)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

KAFKA_VERSION=4.1.1
FERRETDB_VERSION=v1.24.2
CACHE_DIR="${KCC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/contact-stad}"
STACK_DIR="${KCC_STACK_DIR:-$repo/.stack/local}"
KAFKA_PORT="${KCC_KAFKA_PORT:-9092}"
CONTROLLER_PORT=$((KAFKA_PORT + 1))
MONGO_PORT="${KCC_MONGO_PORT:-27017}"
KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
FERRETDB_BIN="$CACHE_DIR/ferretdb-$FERRETDB_VERSION/ferretdb"
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

install_ferretdb() {
  [ -x "$FERRETDB_BIN" ] && return
  command -v go >/dev/null || die "Go is needed to build FerretDB"
  log "building FerretDB $FERRETDB_VERSION from the Go module proxy (a cold build takes minutes)"
  local src work
  src="$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || die "could not download the FerretDB module"
  # The module ships without build/version/version.txt, and a FerretDB main built without it
  # panics at start, so build from a copy that has it.
  work="$(mktemp -d)"
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" >"$work/build/version/version.txt"
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  # Newer Go refuses a //go:linkname in modernc.org/libc; -checklinkname=0 is the known fix.
  (cd "$work" && CGO_ENABLED=0 go build -ldflags=-checklinkname=0 -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb) >&2
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  rm -rf "$work"
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

ferret_up() {
  install_ferretdb
  local dir="$STACK_DIR/ferretdb"
  if pid_alive "$dir/pid"; then log "ferretdb already running (pid $(cat "$dir/pid"))"; return; fi
  port_open "$MONGO_PORT" && die "port $MONGO_PORT is taken by another process"
  mkdir -p "$dir/data" "$dir/logs"
  log "starting FerretDB $FERRETDB_VERSION on 127.0.0.1:$MONGO_PORT (SQLite in $dir/data)"
  setsid nohup "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$dir/data/" \
    --listen-addr="127.0.0.1:$MONGO_PORT" --telemetry=disable --state-dir="$dir" \
    --debug-addr=- --log-level=warn >"$dir/logs/ferretdb.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  local deadline=$((SECONDS + ${KCC_STACK_TIMEOUT:-120}))
  # Ready when the wire protocol answers; the services' readiness probe then pings for real.
  until port_open "$MONGO_PORT"; do
    pid_alive "$dir/pid" || { tail -n 20 "$dir/logs/ferretdb.log" >&2; die "FerretDB exited"; }
    [ $SECONDS -lt $deadline ] || die "FerretDB not ready in time, see $dir/logs"
    sleep 0.2
  done
  log "ferretdb ready"
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
  for name in kafka ferretdb; do
    if pid_alive "$STACK_DIR/$name/pid"; then
      echo "$name: running (pid $(cat "$STACK_DIR/$name/pid"))"
    else
      echo "$name: stopped"
    fi
  done
}

case "${1:-}" in
  install) install_kafka; install_ferretdb ;;
  up) install_kafka; install_ferretdb; ferret_up; kafka_up ;;
  down) stop_pid kafka "$STACK_DIR/kafka/pid"; stop_pid ferretdb "$STACK_DIR/ferretdb/pid" ;;
  kafka-up) kafka_up ;;
  kafka-down) stop_pid kafka "$STACK_DIR/kafka/pid" ;;
  ferret-up) ferret_up ;;
  ferret-down) stop_pid ferretdb "$STACK_DIR/ferretdb/pid" ;;
  status) status ;;
  reset)
    stop_pid kafka "$STACK_DIR/kafka/pid"; stop_pid ferretdb "$STACK_DIR/ferretdb/pid"
    log "deleting $STACK_DIR"; rm -rf "$STACK_DIR" ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
