#!/usr/bin/env bash
# The two-site local stack (PLAYLOG_TOPOLOGY=two-site npm run stack -- …), the seed story's shape:
#   edge: a 3-node KRaft cluster (each node broker + controller) where ingest writes; its plays topic
#         has replication factor 3, min.insync.replicas 2 and unclean leader election off;
#   core: a single-node Kafka, PostgreSQL, where the loader and reporter run;
#   link: MirrorMaker 2 (dedicated mode, Apache Kafka's own jars) copying play-logs edge -> core (as
#         edge.play-logs) and the API-key feed core -> edge (as core.playlog-keys).
# Everything on loopback, data under .stack/two-site/. Ports: edge brokers 29091-29093 (controllers
# 29191-29193), core Kafka 49092 (controller 49093), core PostgreSQL 45432 (the benchmarks' private stack
# takes 39092 and 35432).
set -euo pipefail
# shellcheck source=tools/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SITE_DIR="$STACK_ROOT/two-site"
EDGE_PORTS=(29091 29092 29093) EDGE_CTRL=(29191 29192 29193)
CORE_PORT=49092 CORE_CTRL=49093 CORE_PG_PORT=45432
EDGE_BROKERS="127.0.0.1:29091,127.0.0.1:29092,127.0.0.1:29093"
CORE_BROKERS="127.0.0.1:$CORE_PORT"
EDGE_VOTERS="1@127.0.0.1:29191,2@127.0.0.1:29192,3@127.0.0.1:29193"
MM2_DIR="$SITE_DIR/mm2" MM2_LIBS="$STACK_ROOT/kafka/mm2-libs" MM2_PID="$SITE_DIR/mm2/mm2.pid"
MM2_MAIN='org\.apache\.kafka\.connect\.mirror\.MirrorMaker'
EDGE_TOPICS=("play-logs:6:3:min.insync.replicas=2,unclean.leader.election.enable=false")
# The mirrored topics exist before MirrorMaker's first pass, so the apps can start at once.
EDGE_MIRRORED=("core.playlog-keys:1:3:cleanup.policy=compact")
CORE_TOPICS=("playlog-keys:1:1:cleanup.policy=compact" "play-logs-dlq:1:1" "edge.play-logs:6:1")

# Each edge node gets a smaller heap than the single stack's broker: four brokers and MirrorMaker share the box.
edge_node() { K_HEAP_MIN=128m K_HEAP_MAX=384m; use_kafka "$SITE_DIR/edge/broker$1" "${EDGE_PORTS[$1 - 1]}" "${EDGE_CTRL[$1 - 1]}" "$1" "$EDGE_VOTERS" "$HERE/edge-broker.properties.tmpl" "edge broker $1"; }
core_node() { K_HEAP_MIN=128m K_HEAP_MAX=512m; use_kafka "$SITE_DIR/core/kafka" "$CORE_PORT" "$CORE_CTRL" 1 "1@127.0.0.1:$CORE_CTRL" "$HERE/server.properties.tmpl" "core kafka"; }
core_pg() { use_pg "$SITE_DIR/core/pg" "$CORE_PG_PORT"; }

# One KRaft cluster id for the three edge nodes, made once and kept.
edge_cluster_id() {
  local f="$SITE_DIR/edge/cluster.id"
  [[ -s $f ]] || { mkdir -p "$(dirname "$f")"; ktool kafka.tools.StorageTool random-uuid >"$f"; }
  cat "$f"
}

core_cluster_id() { [[ -f $SITE_DIR/core/kafka/data/meta.properties ]] || ktool kafka.tools.StorageTool random-uuid; }

launch_edge() { local id; id="$(edge_cluster_id)"; for n in 1 2 3; do edge_node "$n"; launch_kafka "$id"; done; }

# Wait until the edge cluster answers through each live node (a quorum needs 2 of 3).
wait_edge() { for n in 1 2 3; do edge_node "$n"; [[ -f $K_PID ]] && wait_kafka; done; }

# ---------------------------------------------------------------- MirrorMaker 2

mm2_pid() { local pid; [[ -f $MM2_PID ]] && pid="$(<"$MM2_PID")" && is_java_proc "$pid" "$MM2_MAIN" && echo "$pid"; }

start_mm2() {
  local pid p
  if pid="$(mm2_pid)"; then log "mirrormaker already running (pid $pid)"; return 0; fi
  ensure_jars_of "$HERE/mm2-pom.xml" "$MM2_LIBS"
  mkdir -p "$MM2_DIR"
  local t; t="$(<"$HERE/mm2.properties.tmpl")"
  t="${t//@EDGE_BROKERS@/$EDGE_BROKERS}"; t="${t//@CORE_BROKERS@/$CORE_BROKERS}"; t="${t//@PKI@/$(pki_dir)}"
  printf '%s\n' "$t" >"$MM2_DIR/mm2.properties"
  log "starting mirrormaker 2 (edge -> core: play-logs; core -> edge: playlog-keys)"
  # About 30 MB of heap in use after a full GC with both flows: 256 MB is plenty.
  nohup setsid "$JAVA" -Xms64m -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dmm2.logs.dir="$MM2_DIR" -Dlog4j2.configurationFile="$HERE/mm2-log4j2.properties" \
    -cp "$MM2_LIBS/*" org.apache.kafka.connect.mirror.MirrorMaker "$MM2_DIR/mm2.properties" \
    >>"$MM2_DIR/mm2.out" 2>&1 </dev/null 9>&- &
  pid=$!
  for ((p = 0; p < 100; p++)); do is_java_proc "$pid" "$MM2_MAIN" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  echo "$pid" >"$MM2_PID"
}

# stop_mm2 [SIGNAL]: TERM (the link goes down cleanly) or KILL (MirrorMaker crashes).
stop_mm2() {
  local sig=${1:-TERM} pid i
  if ! pid="$(mm2_pid)"; then rm -f "$MM2_PID"; log "mirrormaker not running"; return 0; fi
  log "stopping mirrormaker (pid $pid, SIG$sig)"
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do is_java_proc "$pid" "$MM2_MAIN" || break; sleep 0.2; done
  if is_java_proc "$pid" "$MM2_MAIN"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  rm -f "$MM2_PID"
  log "mirrormaker stopped"
}

# ---------------------------------------------------------------- commands

# A node started by an older checkout runs without TLS: stop it, so that it starts again secured.
restart_unsecured() {
  if kafka_pid >/dev/null && ! grep -q '^ssl.client.auth=required' "$K_CONF" 2>/dev/null; then
    log "$K_LABEL on $BOOTSTRAP runs without TLS (started by an older checkout): restarting it"
    stop_kafka
  fi
}

cmd_up() {
  local t0=$SECONDS n
  pg_bin
  ensure_jars
  ensure_pki
  if mm2_pid >/dev/null && ! grep -q '^edge.security.protocol = SSL' "$MM2_DIR/mm2.properties" 2>/dev/null; then stop_mm2; fi
  for n in 1 2 3; do edge_node "$n"; restart_unsecured; done
  core_node; restart_unsecured
  launch_edge
  core_node; launch_kafka "$(core_cluster_id)"
  core_pg; start_pg
  wait_edge
  edge_node 1; wait_kafka; ensure_topics "${EDGE_TOPICS[@]}" "${EDGE_MIRRORED[@]}"; apply_acls edge
  core_node; wait_kafka; ensure_topics "${CORE_TOPICS[@]}"; apply_acls core
  start_mm2
  log "two-site stack up in $((SECONDS - t0))s (edge $EDGE_BROKERS; core $CORE_BROKERS, postgres 127.0.0.1:$CORE_PG_PORT)"
  log "run the apps with: eval \"\$(PLAYLOG_TOPOLOGY=two-site npm run -s stack -- env edge)\" (ingest), … env core (loader, reporter)"
}

cmd_down() {
  stop_mm2
  # The edge's nodes are its controllers too: stopped one after another, the last one has lost its quorum
  # and cannot finish a controlled shutdown (it hung 60 s, then took SIGKILL). Told together, they finish.
  local n pids=()
  for n in 1 2 3; do edge_node "$n"; signal_kafka || true; pids[n]=$K_SIGNALLED; done
  for n in 1 2 3; do if [[ -n ${pids[n]} ]]; then edge_node "$n"; await_kafka "${pids[n]}"; fi; done
  core_node; stop_kafka
  core_pg; stop_pg
}

cmd_status() {
  local rc=0 pid n
  for n in 1 2 3; do
    edge_node "$n"
    if pid="$(kafka_pid)" && port_open "$KAFKA_PORT"; then log "edge broker $n: running (pid $pid) on $BOOTSTRAP"
    else log "edge broker $n: not running (port $KAFKA_PORT)"; rc=3; fi
  done
  core_node
  if pid="$(kafka_pid)" && port_open "$KAFKA_PORT"; then log "core kafka: running (pid $pid) on $BOOTSTRAP"
  else log "core kafka: not running (port $KAFKA_PORT)"; rc=3; fi
  core_pg; pg_bin
  if pg_running && "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then log "core postgres: running on 127.0.0.1:$PG_PORT"
  else log "core postgres: not running (port $PG_PORT)"; rc=3; fi
  if pid="$(mm2_pid)"; then log "link (mirrormaker 2): up (pid $pid)"; else log "link (mirrormaker 2): down"; rc=3; fi
  return "$rc"
}

cmd_reset() {
  cmd_down
  log "deleting $SITE_DIR (keeping cached jars)"
  core_pg; wipe_pg
  rm -rf "${SITE_DIR:?}"
  cmd_up
}

# env edge|core [--as APP]: the exports for the apps of a site (ingest at the edge; loader, reporter,
# keys and migrate at the core). Without --as each app still connects as its own principal (see
# stack.sh's env); with it, as APP.
cmd_env() {
  parse_env_args "$@"
  local pg_port=""
  case "$ENV_SITE" in
    edge)
      if [[ -n $ENV_AS ]]; then env_principal "$ENV_AS" "$EDGE_BROKERS" ""; else echo "export KAFKA_BROKERS=$EDGE_BROKERS"; fi
      echo "export KAFKA_TOPIC=play-logs"
      echo "export KAFKA_KEYS_TOPIC=core.playlog-keys"
      echo "export KAFKA_REQUIRE_REPLICATION=true"
      ;;
    core)
      [[ $ENV_AS == ingest ]] || pg_port=$CORE_PG_PORT
      if [[ -n $ENV_AS ]]; then env_principal "$ENV_AS" "$CORE_BROKERS" "$pg_port" "$EDGE_BROKERS"
      else
        echo "export KAFKA_BROKERS=$CORE_BROKERS"
        echo "export DATABASE_URL='postgres://127.0.0.1:$CORE_PG_PORT/playlog?sslmode=verify-full'"
        echo "export EDGE_KAFKA_BROKERS=$EDGE_BROKERS"
      fi
      echo "export KAFKA_TOPIC=edge.play-logs"
      echo "export KAFKA_DLQ_TOPIC=play-logs-dlq"
      echo "export KAFKA_KEYS_TOPIC=playlog-keys"
      echo "export EDGE_KAFKA_TOPIC=play-logs"
      ;;
    *) echo "stack: env needs a site: env edge (ingest) or env core (loader, reporter, keys, migrate) [--as APP]" >&2; exit 2 ;;
  esac
  [[ -n $ENV_AS ]] || echo "export PLAYLOG_CREDENTIALS_DIR=$(pki_dir)"
}

cmd_link() {
  case "${1:-}" in
    down) stop_mm2 ;;
    kill) stop_mm2 KILL ;;
    up) start_mm2 ;;
    *) echo "stack: link down|up (or kill: SIGKILL MirrorMaker)" >&2; exit 2 ;;
  esac
}

cmd_broker() {
  local action=${1:-} n=${2:-}
  [[ $n =~ ^[123]$ ]] || { echo "stack: broker kill|stop|start|pause|resume N, N one of 1, 2, 3" >&2; exit 2; }
  edge_node "$n"
  case "$action" in
    kill) stop_kafka KILL ;;
    stop) stop_kafka ;;
    # A broker that hangs (GC pause, frozen VM) without dying: SIGSTOP, then SIGCONT.
    pause) kill -STOP "$(kafka_pid)" && log "edge broker $n paused (SIGSTOP)" ;;
    resume) kill -CONT "$(<"$K_PID")" && log "edge broker $n resumed (SIGCONT)" ;;
    start) launch_kafka "$(edge_cluster_id)"; wait_kafka; log "edge broker $n ready on $BOOTSTRAP" ;;
    *) echo "stack: broker kill|stop|start N" >&2; exit 2 ;;
  esac
}

# The core's PostgreSQL, for fault tests: crash (immediate stop: no checkpoint), stop, start.
cmd_pg() {
  core_pg
  case "${1:-}" in
    crash) stop_pg immediate ;;
    stop) stop_pg ;;
    start) start_pg ;;
    *) echo "stack: pg crash|stop|start" >&2; exit 2 ;;
  esac
}

usage() {
  echo "usage: PLAYLOG_TOPOLOGY=two-site npm run stack -- up|down|status|reset|env edge|env core [--as APP]|link down|link up|broker kill N|broker start N"
  echo "  The two-site stack: a 3-broker edge cluster, a core Kafka and PostgreSQL, MirrorMaker 2 between them."
  echo "  Also: link kill (SIGKILL MirrorMaker), broker stop|pause|resume N, pg crash|stop|start (the core's PostgreSQL)."
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    env) shift; cmd_env "$@" ;;
    status) cmd_status ;;
    up | down | reset) take_lock; "cmd_$cmd" ;;
    link) take_lock; cmd_link "${2:-}" ;;
    broker) take_lock; cmd_broker "${2:-}" "${3:-}" ;;
    pg) take_lock; cmd_pg "${2:-}" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
