#!/usr/bin/env bash
# Local dev/test stack for Playlog without Docker: single-node Apache Kafka (KRaft) + PostgreSQL 15.
# Usage: stack.sh up|down|status|reset|env|start-kafka|stop-kafka|start-pg|stop-pg
# Overrides: PLAYLOG_STACK_DIR, PLAYLOG_KAFKA_PORT, PLAYLOG_KAFKA_CONTROLLER_PORT, PLAYLOG_PG_PORT,
#            PLAYLOG_STACK_TIMEOUT (readiness wait, s), PG_BIN (dir with pg_ctl), JAVA_HOME.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STACK_DIR="${PLAYLOG_STACK_DIR:-$REPO/.stack}"
KAFKA_PORT="${PLAYLOG_KAFKA_PORT:-19092}"
CTRL_PORT="${PLAYLOG_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${PLAYLOG_PG_PORT:-15432}"
WAIT_SECS="${PLAYLOG_STACK_TIMEOUT:-90}"

K_DIR="$STACK_DIR/kafka" K_LIBS="$STACK_DIR/kafka/libs" K_DATA="$STACK_DIR/kafka/data"
K_LOGS="$STACK_DIR/kafka/logs" K_PID="$STACK_DIR/kafka/kafka.pid" K_CONF="$STACK_DIR/kafka/server.properties"
PG_DIR="$STACK_DIR/pg" PG_DATA="$STACK_DIR/pg/data" PG_RUN="$STACK_DIR/pg/run" PG_LOGS="$STACK_DIR/pg/logs"
PG_LOG="$STACK_DIR/pg/logs/postgres.log"
# name:partitions[:compact]. playlog-keys is the API-key feed (compacted: the latest state of each key).
TOPICS=("play-logs:6" "play-logs-dlq:1" "playlog-keys:1:compact")
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
KTOPICS=""                                 # last topic listing (filled by wait_kafka)

log() { echo "stack: $*"; }
err() { echo "stack: ERROR: $*" >&2; }

# Print the last 30 lines of each given (non-empty) log file to stderr, plus its last ERROR lines.
show_log() {
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    echo "stack: ---- last 30 lines of $f ----" >&2
    tail -n 30 "$f" >&2
    if tail -n 2000 "$f" | grep -qE '(ERROR|FATAL|PANIC)'; then
      echo "stack: ---- last error lines of $f ----" >&2
      tail -n 2000 "$f" | grep -E '(ERROR|FATAL|PANIC)' | tail -n 5 >&2
    fi
  done
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port_owner() { command -v ss >/dev/null && ss -ltnpH "sport = :$1" >&2 || true; }

# Serialize mutating commands (parallel `up`s from test runners).
take_lock() {
  mkdir -p "$STACK_DIR"
  if command -v flock >/dev/null; then exec 9>"$STACK_DIR/.lock" && flock -w 300 9; fi
}

# ---------------------------------------------------------------- Kafka

# Run a Kafka CLI class from the cached jars (small, fast-starting JVM).
ktool() {
  timeout 120 "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.yaml" -cp "$K_LIBS/*" "$@"
}

# Fetch the broker jars once; refetch only if tools/stack/pom.xml changed.
ensure_jars() {
  local sum; sum="$(cksum <"$HERE/pom.xml")"
  [[ -f $K_LIBS/.pom.cksum && "$(<"$K_LIBS/.pom.cksum")" == "$sum" ]] && return 0
  log "fetching Kafka jars into $K_LIBS (one-time, via Maven)"
  command -v mvn >/dev/null || { err "mvn not found; install Maven (and Java 17+)"; exit 1; }
  rm -rf "$K_LIBS.tmp" && mkdir -p "$K_DIR"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$K_LIBS.tmp" \
    -DincludeScope=runtime >"$K_DIR/mvn.log" 2>&1 || { err "maven failed to fetch Kafka jars"; show_log "$K_DIR/mvn.log"; exit 1; }
  echo "$sum" >"$K_LIBS.tmp/.pom.cksum"
  rm -rf "$K_LIBS" && mv "$K_LIBS.tmp" "$K_LIBS"
}

# True if $1 is the pid of a live Kafka broker (zombies have an empty cmdline).
is_kafka_proc() { [[ $1 =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q 'kafka\.Kafka '; }

# True if process $1 exists and is not a zombie (whatever its cmdline reads mid-exec).
alive() { [[ $1 =~ ^[0-9]+$ && -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# Print the pid of our running broker; fail if it isn't running.
kafka_pid() {
  local pid
  [[ -f $K_PID ]] && pid="$(<"$K_PID")" && is_kafka_proc "$pid" && echo "$pid"
}

render_kafka_config() {
  local t; t="$(<"$HERE/server.properties.tmpl")"
  t="${t//@KAFKA_PORT@/$KAFKA_PORT}"; t="${t//@CONTROLLER_PORT@/$CTRL_PORT}"; t="${t//@DATA_DIR@/$K_DATA}"
  printf '%s\n' "$t" >"$K_CONF"
  # Bounded timeouts for the CLI's admin client so a sick broker can't hang us.
  printf '%s\n' "request.timeout.ms=10000" "default.api.timeout.ms=15000" >"$K_DIR/admin.properties"
}

# Start the broker detached (doesn't wait for readiness). Sets K_STARTED=1 if it launched one.
launch_kafka() {
  local pid p cid
  K_STARTED=0
  if pid="$(kafka_pid)"; then log "kafka already running (pid $pid) on $BOOTSTRAP"; return 0; fi
  rm -f "$K_PID"
  for p in "$KAFKA_PORT" "$CTRL_PORT"; do
    if port_open "$p"; then
      err "port $p is already in use by a process that is not this stack's Kafka"
      port_owner "$p"; show_log "$K_LOGS/server.log"; exit 1
    fi
  done
  ensure_jars
  mkdir -p "$K_DATA" "$K_LOGS"
  render_kafka_config
  if [[ ! -f $K_DATA/meta.properties ]]; then   # format the KRaft storage once
    cid="$(ktool kafka.tools.StorageTool random-uuid)"
    log "formatting Kafka storage (cluster id $cid)"
    ktool kafka.tools.StorageTool format --config "$K_CONF" --cluster-id "$cid" >"$K_LOGS/format.log" 2>&1 \
      || { err "kafka storage format failed"; show_log "$K_LOGS/format.log"; exit 1; }
  fi
  log "starting kafka on $BOOTSTRAP (controller 127.0.0.1:$CTRL_PORT)"
  # setsid + nohup: the broker outlives this shell and its terminal; $! is the java pid. 9>&-: don't inherit the lock.
  nohup setsid "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dkafka.logs.dir="$K_LOGS" -Dlog4j2.configurationFile="$HERE/log4j2.yaml" \
    -cp "$K_LIBS/*" kafka.Kafka "$K_CONF" >>"$K_LOGS/kafka.out" 2>&1 </dev/null 9>&- &
  pid=$!
  for ((p = 0; p < 100; p++)); do   # let the fork exec java before anyone checks its cmdline
    is_kafka_proc "$pid" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05
  done
  echo "$pid" >"$K_PID"
  K_STARTED=1
}

# Wait until the broker answers a real metadata request (topic listing).
wait_kafka() {
  local deadline=$((SECONDS + WAIT_SECS))
  while :; do
    # Liveness by the process itself: under heavy load its cmdline can read empty while nohup and
    # setsid exec into java, which once made a healthy start look like a crash.
    if ! alive "$(cat "$K_PID" 2>/dev/null)"; then
      err "kafka exited during startup"; show_log "$K_LOGS/kafka.out" "$K_LOGS/server.log"; rm -f "$K_PID"; exit 1
    fi
    if port_open "$KAFKA_PORT" && KTOPICS="$(ktool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
        --command-config "$K_DIR/admin.properties" --list 2>/dev/null)"; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      err "kafka not ready on $BOOTSTRAP after ${WAIT_SECS}s"; show_log "$K_LOGS/kafka.out" "$K_LOGS/server.log"
      [[ ${K_STARTED:-0} == 1 ]] && stop_kafka >&2
      exit 1
    fi
    sleep 1
  done
}

ensure_topics() {
  local t name parts kind extra
  for t in "${TOPICS[@]}"; do
    IFS=: read -r name parts kind <<<"$t"
    grep -qx "$name" <<<"$KTOPICS" && continue
    extra=()
    [[ $kind == compact ]] && extra=(--config cleanup.policy=compact)
    log "creating topic $name ($parts partitions${kind:+, $kind})"
    ktool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --command-config "$K_DIR/admin.properties" \
      --create --if-not-exists --topic "$name" --partitions "$parts" --replication-factor 1 "${extra[@]}" >/dev/null
  done
}

start_kafka() {
  launch_kafka
  [[ $K_STARTED == 1 ]] || return 0
  wait_kafka && ensure_topics && log "kafka ready on $BOOTSTRAP"
}

stop_kafka() {
  local pid i
  if ! pid="$(kafka_pid)"; then rm -f "$K_PID"; log "kafka not running"; return 0; fi
  log "stopping kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do is_kafka_proc "$pid" || break; sleep 0.2; done   # up to 60 s
  if is_kafka_proc "$pid"; then
    log "kafka did not stop within 60s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do is_kafka_proc "$pid" || break; sleep 0.2; done
  fi
  rm -f "$K_PID"
  log "kafka stopped"
}

# ---------------------------------------------------------------- PostgreSQL

pg_bin() {
  local d
  [[ -n ${PGBIN:-} ]] && return 0
  for d in "${PG_BIN:-}" /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    [[ -n $d && -x $d/pg_ctl ]] && { PGBIN="$d"; return 0; }
  done
  command -v pg_ctl >/dev/null && { PGBIN="$(dirname "$(command -v pg_ctl)")"; return 0; }
  err "PostgreSQL binaries (pg_ctl) not found; install PostgreSQL 15 or set PG_BIN"; exit 1
}

# Postgres refuses to run as root: use the `postgres` OS user then, else the current user.
as_pg() {
  if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_own() {
  ((EUID == 0)) || return 0
  chmod 755 "$STACK_DIR"; chown -R postgres:postgres "$PG_DIR"
  as_pg test -x "$PG_DIR" || { err "OS user postgres cannot reach $PG_DIR (check parent dir permissions)"; exit 1; }
}

pg_running() { [[ -f $PG_DATA/PG_VERSION ]] && as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

psql_local() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U playlog "$@"; }

# initdb once: superuser playlog/playlog, scram over TCP, trust on the unix socket.
init_pg() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  log "initializing PostgreSQL cluster in $PG_DATA"
  mkdir -p "$PG_DATA" "$PG_RUN" "$PG_LOGS" && chmod 700 "$PG_DATA"
  printf 'playlog\n' >"$PG_DIR/.pwfile"
  pg_own
  if ! as_pg "$PGBIN/initdb" -D "$PG_DATA" -U playlog --pwfile="$PG_DIR/.pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C >"$PG_LOGS/initdb.log" 2>&1; then
    rm -f "$PG_DIR/.pwfile"; err "initdb failed"; show_log "$PG_LOGS/initdb.log"; exit 1
  fi
  rm -f "$PG_DIR/.pwfile"
  cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# ---- playlog local stack (tools/stack/stack.sh) ----
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
include_if_exists = 'stack.conf'   # port + socket dir, rewritten on every start
EOF
}

start_pg() {
  local deadline
  pg_bin
  if pg_running; then log "postgres already running on 127.0.0.1:$PG_PORT"; return 0; fi
  if port_open "$PG_PORT"; then
    err "port $PG_PORT is already in use by a process that is not this stack's Postgres"
    port_owner "$PG_PORT"; show_log "$PG_LOG"; exit 1
  fi
  init_pg
  mkdir -p "$PG_RUN" "$PG_LOGS"
  printf "port = %s\nunix_socket_directories = '%s'\n" "$PG_PORT" "$PG_RUN" >"$PG_DATA/stack.conf"
  pg_own
  log "starting postgres on 127.0.0.1:$PG_PORT"
  if ! as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$WAIT_SECS" start >/dev/null 2>&1 9>&-; then
    err "postgres failed to start"; show_log "$PG_LOG"; exit 1
  fi
  deadline=$((SECONDS + WAIT_SECS))
  until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; do
    ((SECONDS < deadline)) || { err "postgres not accepting connections after ${WAIT_SECS}s"; show_log "$PG_LOG"; exit 1; }
    sleep 0.5
  done
  if [[ "$(psql_local -d postgres -tAc "select 1 from pg_database where datname = 'playlog'")" != 1 ]]; then
    log "creating database playlog"
    psql_local -d postgres -c 'create database playlog owner playlog'
  fi
  log "postgres ready on 127.0.0.1:$PG_PORT"
}

stop_pg() {
  pg_bin
  if ! pg_running; then log "postgres not running"; return 0; fi
  log "stopping postgres"
  as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
  log "postgres stopped"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local t0=$SECONDS
  pg_bin
  if kafka_pid >/dev/null && pg_running; then
    wait_kafka && ensure_topics # a stack started by an older checkout may lack a topic added since
    log "stack already running (kafka $BOOTSTRAP, postgres 127.0.0.1:$PG_PORT)"; return 0
  fi
  launch_kafka        # broker boots while Postgres starts
  start_pg
  wait_kafka
  ensure_topics
  log "kafka ready on $BOOTSTRAP"
  log "stack up in $((SECONDS - t0))s — run: eval \"\$(npm run -s stack -- env)\""
}

cmd_down() { stop_kafka; stop_pg; }

cmd_status() {
  local rc=0 pid
  if pid="$(kafka_pid)" && port_open "$KAFKA_PORT"; then log "kafka: running (pid $pid) on $BOOTSTRAP"
  else log "kafka: not running (port $KAFKA_PORT)"; rc=3; fi
  pg_bin
  if pg_running && "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then log "postgres: running on 127.0.0.1:$PG_PORT"
  else log "postgres: not running (port $PG_PORT)"; rc=3; fi
  return "$rc"
}

cmd_reset() {
  cmd_down
  log "deleting $K_DATA and $PG_DIR (keeping cached jars)"
  rm -rf "${K_DATA:?}" "${PG_DIR:?}"
  cmd_up
}

cmd_env() {
  echo "export KAFKA_BROKERS=$BOOTSTRAP"
  echo "export DATABASE_URL=postgres://playlog:playlog@127.0.0.1:$PG_PORT/playlog"
}

usage() {
  echo "usage: npm run stack -- up|down|status|reset|env|start-kafka|stop-kafka|start-pg|stop-pg"
  echo "  The local stack: a single-node Kafka (KRaft) and PostgreSQL on loopback, data under .stack/."
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    env) cmd_env ;;
    status) cmd_status ;;
    up | down | reset) take_lock; "cmd_$cmd" ;;
    start-kafka) take_lock; start_kafka ;;
    stop-kafka) take_lock; stop_kafka ;;
    start-pg) take_lock; start_pg ;;
    stop-pg) take_lock; stop_pg ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
