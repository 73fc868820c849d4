#!/usr/bin/env bash
# Local dev/test stack for Playlog without Docker. PLAYLOG_TOPOLOGY picks the shape:
#   single (default): a single-node Apache Kafka (KRaft) and PostgreSQL 15;
#   two-site: the edge and core sites joined by MirrorMaker 2 (tools/stack/two-site.sh).
# Usage: stack.sh up|down|status|reset|env|start-kafka|stop-kafka|start-pg|stop-pg
# Overrides: PLAYLOG_STACK_DIR, PLAYLOG_KAFKA_PORT, PLAYLOG_KAFKA_CONTROLLER_PORT, PLAYLOG_PG_PORT,
#            PLAYLOG_STACK_TIMEOUT (readiness wait, s), PG_BIN (dir with pg_ctl), JAVA_HOME.
set -euo pipefail

case "${PLAYLOG_TOPOLOGY:-single}" in
  single) ;;
  two-site) exec bash "$(dirname "${BASH_SOURCE[0]}")/two-site.sh" "$@" ;;
  *) echo "stack: PLAYLOG_TOPOLOGY must be single or two-site (got ${PLAYLOG_TOPOLOGY})" >&2; exit 2 ;;
esac

# shellcheck source=tools/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_DIR="$STACK_ROOT/kafka"
# name:partitions[:replication factor[:config,…]]. playlog-keys is the API-key feed (compacted: the
# latest state of each key).
TOPICS=("play-logs:6" "play-logs-dlq:1" "playlog-keys:1:1:cleanup.policy=compact")

use_kafka "$KAFKA_DIR" "${PLAYLOG_KAFKA_PORT:-19092}" "${PLAYLOG_KAFKA_CONTROLLER_PORT:-19093}" 1 \
  "1@127.0.0.1:${PLAYLOG_KAFKA_CONTROLLER_PORT:-19093}" "$HERE/server.properties.tmpl"
use_pg "$STACK_ROOT/pg" "${PLAYLOG_PG_PORT:-15432}"

new_cluster_id() { ktool kafka.tools.StorageTool random-uuid; }

start_kafka() {
  ensure_jars
  ensure_pki
  launch_kafka "$([[ -f $K_DATA/meta.properties ]] || new_cluster_id)"
  [[ $K_STARTED == 1 ]] || return 0
  wait_kafka && ensure_topics "${TOPICS[@]}" && apply_acls single && log "kafka ready on $BOOTSTRAP"
}

cmd_up() {
  local t0=$SECONDS
  pg_bin
  ensure_pki
  if kafka_pid >/dev/null && ! grep -q '^ssl.client.auth=required' "$K_CONF" 2>/dev/null; then
    log "kafka on $BOOTSTRAP runs without TLS (started by an older checkout): restarting it"
    stop_kafka
  fi
  if kafka_pid >/dev/null && pg_running; then
    # A stack started by an older checkout may lack a topic, an ACL or a role added since.
    wait_kafka && ensure_topics "${TOPICS[@]}" && apply_acls single
    start_pg
    log "stack already running (kafka $BOOTSTRAP, postgres 127.0.0.1:$PG_PORT)"; return 0
  fi
  ensure_jars
  launch_kafka "$([[ -f $K_DATA/meta.properties ]] || new_cluster_id)" # the broker boots while Postgres starts
  start_pg
  wait_kafka
  ensure_topics "${TOPICS[@]}"
  apply_acls single
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
  rm -rf "${K_DATA:?}"
  wipe_pg
  use_pg "$STACK_ROOT/pg" "$PG_PORT"
  cmd_up
}

# env [--as APP]: the exports for the apps. Without --as, each app still connects as its own principal:
# DATABASE_URL names no user (an app fills in its own role) and PLAYLOG_CREDENTIALS_DIR holds every
# principal's credentials (libs/config credentials.ts).
cmd_env() {
  parse_env_args "$@"
  [[ -z $ENV_SITE ]] || { echo "stack: env takes no site on the single stack (PLAYLOG_TOPOLOGY=two-site for env edge|core)" >&2; exit 2; }
  if [[ -n $ENV_AS ]]; then env_principal "$ENV_AS" "$BOOTSTRAP" "$PG_PORT"; return; fi
  echo "export KAFKA_BROKERS=$BOOTSTRAP"
  echo "export DATABASE_URL='postgres://127.0.0.1:$PG_PORT/playlog?sslmode=verify-full'"
  echo "export PLAYLOG_CREDENTIALS_DIR=$(pki_dir)"
}

usage() {
  echo "usage: npm run stack -- up|down|status|reset|env [--as APP]|start-kafka|stop-kafka|start-pg|stop-pg"
  echo "  The local stack: a single-node Kafka (KRaft) and PostgreSQL on loopback, data under .stack/; every"
  echo "  connection mutual TLS with the stack's own certificates (.stack/pki). env --as APP (${APPS[*]}):"
  echo "  the exports that make APP connect as itself."
  echo "  PLAYLOG_TOPOLOGY=two-site selects the two-site stack (npm run stack -- --help with it set)."
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    env) shift; cmd_env "$@" ;;
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
