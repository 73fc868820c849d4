# shellcheck shell=bash
# Runs the built ingest and loader on spare loopback ports against the local stack, isolated from
# everyone else's data: their own database (playlog_ops_check), topic and consumer group, so smoke
# plays and probe traffic never reach the real play-logs topic, plays table or reports.
# Sourced by ops/check.sh; expects REPO and WORK (a scratch dir) set. Sets INGEST_URL, INGEST_METRICS_URL,
# LOADER_URL. The key feed is a topic of its own too: the loader publishes the check database's keys there.

OPS_DB=playlog_ops_check
# Named as the tests name their own (libs/testing testName): the local ACLs grant each app on them what
# it has on the real ones (docs/security.md).
OPS_TOPIC=play-logs-t-ops-check
OPS_DLQ_TOPIC=play-logs-dlq-t-ops-check
OPS_KEYS_TOPIC=playlog-keys-t-ops-check
OPS_GROUP=playlog-loader-t-ops-check
APP_PIDS=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_ready() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

start_apps() {
  eval "$(bash "$REPO/tools/stack/stack.sh" env)" # the apps connect as themselves (DATABASE_URL without a user)
  local db_url="${DATABASE_URL%%\?*}" admin_url
  db_url="${db_url%/*}/$OPS_DB?sslmode=verify-full"
  admin_url="$(bash "$REPO/tools/stack/stack.sh" env --as admin | sed -n "s/^export DATABASE_URL='\(.*\)'$/\1/p")"
  (cd "$REPO" && node --input-type=module -e "
    import pg from 'pg';
    const c = new pg.Client({ connectionString: process.argv[1] });
    await c.connect();
    const r = await c.query('select 1 from pg_database where datname = \$1', [process.argv[2]]);
    if (r.rowCount === 0) await c.query('create database ' + process.argv[2] + ' owner playlog_migrate');
    await c.end();
  " "$admin_url" "$OPS_DB") || return 1
  (cd "$REPO" && DATABASE_URL="$db_url" node libs/db/dist/migrate-cli.js) >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; return 1; }
  (cd "$REPO" && node --input-type=module -e "
    import { kafkaClientConfig } from '@playlog/config';
    import { ensureTopic } from '@playlog/kafka';
    const admin = kafkaClientConfig('admin', process.env);
    await ensureTopic(admin, process.argv[1], 6);
    await ensureTopic(admin, process.argv[2], 1);
    await ensureTopic(admin, process.argv[3], 1, { config: { 'cleanup.policy': 'compact' } });
  " "$OPS_TOPIC" "$OPS_DLQ_TOPIC" "$OPS_KEYS_TOPIC") || return 1
  local ip mp lp
  ip=$(free_port) mp=$(free_port) lp=$(free_port)
  INGEST_URL="http://127.0.0.1:$ip" INGEST_METRICS_URL="http://127.0.0.1:$mp" LOADER_URL="http://127.0.0.1:$lp"
  export OPS_APPS_DB_URL="$db_url" # no user: each app (and the keys CLI) as its own role
  # What reads the check's plays back (smoke --database-url): a role that may read plays, the reporter's.
  OPS_DB_URL="$(bash "$REPO/tools/stack/stack.sh" env --as reporter | sed -n "s/^export DATABASE_URL='\(.*\)'$/\1/p")"
  export OPS_DB_URL="${OPS_DB_URL/\/playlog\?//$OPS_DB?}"
  # The loader first: it publishes the keys (and the heartbeat) that ingest needs to be ready.
  (cd "$REPO" && exec env HOST=127.0.0.1 LOADER_PORT="$lp" KAFKA_TOPIC="$OPS_TOPIC" KAFKA_GROUP_ID="$OPS_GROUP" \
    KAFKA_DLQ_TOPIC="$OPS_DLQ_TOPIC" KAFKA_KEYS_TOPIC="$OPS_KEYS_TOPIC" DATABASE_URL="$db_url" PLAYLOG_LOG_PRETTY=0 \
    node apps/loader/dist/bundle/main.js) >"$WORK/loader.log" 2>&1 &
  APP_PIDS+=($!)
  (cd "$REPO" && exec env HOST=127.0.0.1 PORT="$ip" METRICS_PORT="$mp" KAFKA_TOPIC="$OPS_TOPIC" KAFKA_KEYS_TOPIC="$OPS_KEYS_TOPIC" \
    PLAYLOG_LOG_PRETTY=0 node apps/ingest/dist/main.js) >"$WORK/ingest.log" 2>&1 &
  APP_PIDS+=($!)
  wait_ready "$INGEST_URL/readyz" 30 || { echo "ingest did not get ready:"; tail -20 "$WORK/ingest.log"; return 1; }
  wait_ready "$LOADER_URL/readyz" 30 || { echo "loader did not get ready:"; tail -20 "$WORK/loader.log"; return 1; }
}

# An API key named "smoke" in the check's own database; the key is the CLI's last line.
smoke_key() {
  (cd "$REPO" && DATABASE_URL="$OPS_APPS_DB_URL" KAFKA_KEYS_TOPIC="$OPS_KEYS_TOPIC" PLAYLOG_LOG_PRETTY=0 \
    node apps/ingest/dist/keys-cli.js create --client ops-check --name smoke | tail -1)
}

# Until ingest knows key $1 (the key feed carries a new key within a second or so).
wait_key_known() {
  local deadline=$((SECONDS + 15))
  until curl -fsS -o /dev/null -H "Authorization: Bearer $1" "$INGEST_URL/v1/key"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

stop_apps() {
  local p
  for p in "${APP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${APP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  APP_PIDS=()
}

# The loader stored the smoke play ($1: its playId) as synthetic, so no report can count it.
smoke_play_is_synthetic() {
  (cd "$REPO" && node --input-type=module -e "
    import pg from 'pg';
    const c = new pg.Client({ connectionString: process.argv[1] });
    await c.connect();
    const deadline = Date.now() + 20_000;
    let row;
    while (!row && Date.now() < deadline) {
      row = (await c.query('select synthetic from plays where client_play_id = \$1', [process.argv[2]])).rows[0];
      if (!row) await new Promise((r) => setTimeout(r, 500));
    }
    await c.end();
    if (!row) { console.error('the smoke play ' + process.argv[2] + ' was not loaded within 20 s'); process.exit(1); }
    if (!row.synthetic) { console.error('the smoke play was stored with synthetic = false: it would be reported'); process.exit(1); }
  " "$OPS_DB_URL" "$1")
}
