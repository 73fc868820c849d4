# shellcheck shell=bash
# Functions shared by the local stacks (stack.sh: single; two-site.sh: edge + core + MirrorMaker 2).
# A Kafka node or a PostgreSQL cluster is chosen with use_kafka / use_pg, which set the variables the
# functions below read, so one set of functions serves one broker or four.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STACK_ROOT="${PLAYLOG_STACK_DIR:-$REPO/.stack}"
WAIT_SECS="${PLAYLOG_STACK_TIMEOUT:-90}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# shellcheck source=tools/stack/pki.sh
source "$HERE/pki.sh"
K_LIBS="$STACK_ROOT/kafka/libs"   # the broker's jars, shared by every topology
KTOPICS=""                        # last topic listing (filled by wait_kafka)

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
  mkdir -p "$STACK_ROOT"
  if command -v flock >/dev/null; then exec 9>"$STACK_ROOT/.lock" && flock -w 300 9; fi
}

# True if process $1 exists and is not a zombie (whatever its cmdline reads mid-exec).
alive() { [[ $1 =~ ^[0-9]+$ && -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# True if $1 is the pid of a live JVM running main class $2 (zombies have an empty cmdline).
is_java_proc() { [[ $1 =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q "$2 "; }

# ---------------------------------------------------------------- Maven

# Fetch the jars of pom $1 into directory $2 once; again only if the pom changed.
ensure_jars_of() {
  local pom=$1 dir=$2 sum
  sum="$(cksum <"$pom")"
  [[ -f $dir/.pom.cksum && "$(<"$dir/.pom.cksum")" == "$sum" ]] && return 0
  log "fetching jars for $(basename "$pom") into $dir (one-time, via Maven)"
  command -v mvn >/dev/null || { err "mvn not found; install Maven (and Java 17+)"; exit 1; }
  rm -rf "$dir.tmp" && mkdir -p "$(dirname "$dir")"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$dir.tmp" \
    -DincludeScope=runtime >"$dir.mvn.log" 2>&1 || { err "maven failed to fetch jars"; show_log "$dir.mvn.log"; exit 1; }
  echo "$sum" >"$dir.tmp/.pom.cksum"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

ensure_jars() { ensure_jars_of "$HERE/pom.xml" "$K_LIBS"; }

# Run a Kafka CLI class from the cached jars (small, fast-starting JVM).
ktool() {
  timeout 120 "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.yaml" -cp "$K_LIBS/*" "$@"
}

# ---------------------------------------------------------------- Kafka nodes

# use_kafka DIR PORT CONTROLLER_PORT NODE_ID VOTERS TEMPLATE [LABEL]: the node the functions below act on;
# LABEL names it in the log ("kafka" by default; the two-site stack says which site and node).
use_kafka() {
  K_DIR=$1 KAFKA_PORT=$2 CTRL_PORT=$3 K_NODE_ID=$4 K_VOTERS=$5 K_TEMPLATE=$6 K_LABEL=${7:-kafka}
  K_DATA="$K_DIR/data" K_LOGS="$K_DIR/logs" K_PID="$K_DIR/kafka.pid" K_CONF="$K_DIR/server.properties"
  K_ADMIN="$K_DIR/admin.properties"
  BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
}

# Print the pid of the current node's running broker; fail if it isn't running.
kafka_pid() {
  local pid
  [[ -f $K_PID ]] && pid="$(<"$K_PID")" && is_java_proc "$pid" 'kafka\.Kafka' && echo "$pid"
}

render_kafka_config() {
  local t pki el="" ea="" ep="" es=""
  pki="$(pki_dir)"
  t="$(<"$K_TEMPLATE")"
  # A benchmark's private stack may add a plaintext, unauthenticated listener, to measure what TLS and
  # authentication cost against it in the same run (bench/lib/run-bench.sh). Never on the shared stack.
  if [[ -n ${PLAYLOG_BENCH_PLAINTEXT_PORT:-} ]]; then
    [[ $STACK_ROOT != "$REPO/.stack" ]] || { err "PLAYLOG_BENCH_PLAINTEXT_PORT is for a benchmark's private stack (PLAYLOG_STACK_DIR) only"; exit 2; }
    el=",BENCH://127.0.0.1:$PLAYLOG_BENCH_PLAINTEXT_PORT" ea="$el" ep=",BENCH:PLAINTEXT" es=";User:ANONYMOUS"
  fi
  t="${t//@KAFKA_PORT@/$KAFKA_PORT}"; t="${t//@CONTROLLER_PORT@/$CTRL_PORT}"; t="${t//@DATA_DIR@/$K_DATA}"
  t="${t//@NODE_ID@/$K_NODE_ID}"; t="${t//@VOTERS@/$K_VOTERS}"; t="${t//@PKI@/$pki}"
  t="${t//@EXTRA_LISTENER@/$el}"; t="${t//@EXTRA_ADVERTISED@/$ea}"; t="${t//@EXTRA_PROTOCOL@/$ep}"; t="${t//@EXTRA_SUPER@/$es}"
  printf '%s\n' "$t" >"$K_CONF"
  kafka_admin_config "$K_ADMIN"
}

# kafka_admin_config FILE: the Kafka CLI's client settings as the stack's admin principal (mutual TLS),
# with bounded timeouts so a sick broker can't hang us.
kafka_admin_config() {
  local pki; pki="$(pki_dir)"
  printf '%s\n' "request.timeout.ms=10000" "default.api.timeout.ms=15000" "security.protocol=SSL" \
    "ssl.keystore.type=PEM" "ssl.keystore.location=$pki/admin.pem" "ssl.truststore.type=PEM" \
    "ssl.truststore.location=$pki/ca.crt" >"$1"
}

# apply_acls CLUSTER: the ACLs of docs/security.md's table for CLUSTER (single, edge or core) on the current
# node's cluster, as the admin principal (idempotent: Kafka keeps one copy of each binding).
apply_acls() {
  local pki; pki="$(pki_dir)"
  [[ -f $REPO/node_modules/@platformatic/kafka/package.json ]] \
    || { err "the npm packages are not installed: run npm run setup (or npm ci) first"; exit 1; }
  (cd "$REPO" && node tools/stack/acls.mjs apply --cluster "$1" --bootstrap "$BOOTSTRAP" --pki "$pki") \
    || { err "could not apply the ACLs on $BOOTSTRAP"; exit 1; }
}

# Start the current node detached (doesn't wait for readiness). Sets K_STARTED=1 if it launched one.
# $1: the KRaft cluster id to format new storage with (one id shared by every node of a cluster).
launch_kafka() {
  local cluster_id=$1 pid p
  K_STARTED=0
  if pid="$(kafka_pid)"; then log "$K_LABEL already running (pid $pid) on $BOOTSTRAP"; return 0; fi
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
    log "formatting Kafka storage of $K_LABEL (cluster id $cluster_id)"
    ktool kafka.tools.StorageTool format --config "$K_CONF" --cluster-id "$cluster_id" >"$K_LOGS/format.log" 2>&1 \
      || { err "kafka storage format failed"; show_log "$K_LOGS/format.log"; exit 1; }
  fi
  log "starting $K_LABEL on $BOOTSTRAP (controller 127.0.0.1:$CTRL_PORT)"
  # setsid + nohup: the broker outlives this shell and its terminal; $! is the java pid. 9>&-: don't inherit the lock.
  nohup setsid "$JAVA" -Xms${K_HEAP_MIN:-256m} -Xmx${K_HEAP_MAX:-512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dkafka.logs.dir="$K_LOGS" -Dlog4j2.configurationFile="$HERE/log4j2.yaml" \
    -cp "$K_LIBS/*" kafka.Kafka "$K_CONF" >>"$K_LOGS/kafka.out" 2>&1 </dev/null 9>&- &
  pid=$!
  for ((p = 0; p < 100; p++)); do   # let the fork exec java before anyone checks its cmdline
    is_java_proc "$pid" 'kafka\.Kafka' && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05
  done
  echo "$pid" >"$K_PID"
  K_STARTED=1
}

# Wait until the current node answers a real metadata request (topic listing).
wait_kafka() {
  local deadline=$((SECONDS + WAIT_SECS))
  while :; do
    # Liveness by the process itself: under heavy load its cmdline can read empty while nohup and
    # setsid exec into java, which once made a healthy start look like a crash.
    if ! alive "$(cat "$K_PID" 2>/dev/null)"; then
      err "$K_LABEL exited during startup"; show_log "$K_LOGS/kafka.out" "$K_LOGS/server.log"; rm -f "$K_PID"; exit 1
    fi
    if port_open "$KAFKA_PORT" && KTOPICS="$(ktool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
        --command-config "$K_ADMIN" --list 2>/dev/null)"; then
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

# ensure_topics SPEC...: create the missing ones, each name:partitions[:rf[:config,config...]] on the
# current node's cluster (KTOPICS from wait_kafka), e.g. play-logs:6:3:min.insync.replicas=2.
ensure_topics() {
  local t name parts rf configs extra c
  for t in "$@"; do
    IFS=: read -r name parts rf configs <<<"$t"
    grep -qx "$name" <<<"$KTOPICS" && continue
    extra=()
    IFS=, read -ra cs <<<"${configs:-}"
    for c in "${cs[@]}"; do extra+=(--config "$c"); done
    log "creating topic $name on $BOOTSTRAP ($parts partitions, replication factor ${rf:-1}${configs:+, $configs})"
    ktool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --command-config "$K_ADMIN" \
      --create --if-not-exists --topic "$name" --partitions "$parts" --replication-factor "${rf:-1}" "${extra[@]}" >/dev/null
  done
}

# stop_kafka [SIGNAL]: TERM (default, clean) or KILL (a crash, on purpose).
stop_kafka() {
  if signal_kafka "${1:-TERM}"; then await_kafka "$K_SIGNALLED"; fi
}

# signal_kafka [SIGNAL]: sends the current node SIGNAL (TERM by default) and sets K_SIGNALLED to its pid;
# fails if it is not running. With await_kafka, the nodes of one cluster can be told together and waited
# for after (see two-site.sh's down).
signal_kafka() {
  local sig=${1:-TERM} pid
  K_SIGNALLED=""
  if ! pid="$(kafka_pid)"; then rm -f "$K_PID"; log "$K_LABEL not running"; return 1; fi
  log "stopping $K_LABEL (pid $pid, SIG$sig)"
  kill -"$sig" "$pid" 2>/dev/null || true
  K_SIGNALLED=$pid
}

# await_kafka PID: waits up to 60 s for the current node (pid PID) to exit, then SIGKILLs it.
await_kafka() {
  local pid=$1 i
  for ((i = 0; i < 300; i++)); do is_java_proc "$pid" 'kafka\.Kafka' || break; sleep 0.2; done
  if is_java_proc "$pid" 'kafka\.Kafka'; then
    log "$K_LABEL did not stop within 60s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do is_java_proc "$pid" 'kafka\.Kafka' || break; sleep 0.2; done
  fi
  rm -f "$K_PID"
  log "$K_LABEL stopped"
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

# use_pg DIR PORT: the PostgreSQL cluster the functions below act on.
# As root the server runs as the `postgres` user, which must be able to reach its data directory. A
# checkout under a home directory of mode 700 (root's, for one) is out of its reach: then the cluster
# lives in a directory of its own under /var/lib/playlog-stack (one per checkout and stack) and DIR is a
# symbolic link to it, so it is still found (and reset) under .stack/.
use_pg() {
  PG_DIR=$1 PG_PORT=$2
  if ((EUID == 0)) && id postgres >/dev/null 2>&1 && [[ ! -L $PG_DIR && ! -d $PG_DIR/data ]] && ! pg_reachable "$(dirname "$STACK_ROOT")"; then
    local home; home="/var/lib/playlog-stack/$(printf '%s' "$PG_DIR" | sha256sum | cut -c1-12)"
    mkdir -p "$home" "$(dirname "$PG_DIR")" && chown postgres:postgres "$home" && chmod 700 "$home"
    ln -sfn "$home" "$PG_DIR"
    log "the postgres user cannot reach $(dirname "$PG_DIR"); its data lives in $home (linked from $PG_DIR)"
  fi
  # The server is always given the real path: through the link it would have to cross the home directory.
  local real; real="$(readlink -m "$PG_DIR")"
  PG_DATA="$real/data" PG_RUN="$real/run" PG_LOGS="$real/logs" PG_LOG="$real/logs/postgres.log" PG_HOME="$real"
}

# True if the postgres OS user can reach (traverse) directory $1.
pg_reachable() { runuser -u postgres -- test -x "$1" 2>/dev/null; }

pg_own() {
  ((EUID == 0)) || return 0
  [[ -L $PG_DIR ]] || chmod 755 "$STACK_ROOT" "$(dirname "$PG_DIR")"
  chown -R postgres:postgres "$PG_HOME"
  as_pg test -x "$PG_HOME" || { err "OS user postgres cannot reach $PG_HOME (check parent dir permissions)"; exit 1; }
}

pg_running() { [[ -f $PG_DATA/PG_VERSION ]] && as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

psql_local() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U playlog "$@"; }

# True if the running server has TLS on (a server started by an older checkout has not: restart it).
pg_secured() { [[ "$(psql_local -d postgres -tAc 'show ssl' 2>/dev/null)" == on ]]; }

# initdb once: superuser playlog (the stack's admin: by certificate over TCP, trust on the unix socket).
init_pg() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  log "initializing PostgreSQL cluster in $PG_DATA"
  mkdir -p "$PG_DATA" "$PG_RUN" "$PG_LOGS" && chmod 700 "$PG_DATA"
  pg_own
  if ! as_pg "$PGBIN/initdb" -D "$PG_DATA" -U playlog --auth-local=trust --auth-host=reject -E UTF8 --locale=C \
      >"$PG_LOGS/initdb.log" 2>&1; then
    err "initdb failed"; show_log "$PG_LOGS/initdb.log"; exit 1
  fi
  cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# ---- playlog local stack (tools/stack) ----
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
  if pg_running; then
    if pg_secured; then log "postgres already running on 127.0.0.1:$PG_PORT"; pg_roles; return 0; fi
    log "postgres on 127.0.0.1:$PG_PORT runs without TLS (started by an older checkout): restarting it"
    stop_pg
  fi
  if port_open "$PG_PORT"; then
    err "port $PG_PORT is already in use by a process that is not this stack's Postgres"
    port_owner "$PG_PORT"; show_log "$PG_LOG"; exit 1
  fi
  init_pg
  mkdir -p "$PG_RUN" "$PG_LOGS"
  pg_tls
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
  pg_roles
  log "postgres ready on 127.0.0.1:$PG_PORT"
}

# The server's TLS and who may connect, written on every start (a cluster made by an older checkout gets
# them too): over TCP only TLS with a client certificate from the stack's CA, whose CN names the role
# (pg_ident map "playlog"); the unix socket, in a directory only the postgres user can enter, stays the
# stack's own way in (trust). A benchmark's private stack with PLAYLOG_BENCH_PLAINTEXT_PORT also takes
# plain TCP without authentication, to measure what TLS costs against it.
pg_tls() {
  local pki tls insecure=""
  pki="$(pki_dir)" tls="$PG_HOME/tls"
  mkdir -p "$tls"
  cp "$pki/postgres.crt" "$tls/server.crt" && cp "$pki/postgres.key" "$tls/server.key" && cp "$pki/ca.crt" "$tls/ca.crt"
  chmod 600 "$tls/server.key"
  printf "port = %s\nunix_socket_directories = '%s'\nssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\nssl_ca_file = '%s'\nssl_min_protocol_version = 'TLSv1.2'\n" \
    "$PG_PORT" "$PG_RUN" "$tls/server.crt" "$tls/server.key" "$tls/ca.crt" >"$PG_DATA/stack.conf"
  [[ -n ${PLAYLOG_BENCH_PLAINTEXT_PORT:-} && $STACK_ROOT != "$REPO/.stack" ]] && insecure="host all all 127.0.0.1/32 trust"
  printf '%s\n' "# tools/stack/lib.sh (rewritten on every start)" "local all all trust" \
    "hostssl all all 127.0.0.1/32 cert map=playlog" "$insecure" >"$PG_DATA/pg_hba.conf"
  printf '%s\n' "# tools/stack/lib.sh: certificate CN -> role" "playlog admin playlog" "playlog migrate playlog_migrate" \
    "playlog loader playlog_loader" "playlog reporter playlog_reporter" "playlog keys playlog_keys" >"$PG_DATA/pg_ident.conf"
}

# The roles (libs/db/sql/roles.sql) and the database, owned by playlog_migrate. A database made by an older
# checkout (owned by the superuser) is handed to playlog_migrate with everything in its schema.
pg_roles() {
  psql_local -d postgres -f "$REPO/libs/db/sql/roles.sql" >/dev/null
  if [[ "$(psql_local -d postgres -tAc "select 1 from pg_database where datname = 'playlog'")" != 1 ]]; then
    log "creating database playlog"
    psql_local -d postgres -c 'create database playlog owner playlog_migrate'
  elif [[ "$(psql_local -d postgres -tAc "select pg_get_userbyid(datdba) from pg_database where datname = 'playlog'")" != playlog_migrate ]]; then
    log "handing database playlog to the role playlog_migrate (made by an older checkout)"
    psql_local -d playlog -c 'alter database playlog owner to playlog_migrate' -c "
      do \$\$ declare o record; begin
        for o in select c.relname as name, c.relkind as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace
                  where n.nspname = 'public' and pg_get_userbyid(c.relowner) = 'playlog' and c.relkind in ('r', 'p', 'v', 'S') loop
          execute format(case o.kind when 'S' then 'alter sequence %I owner to playlog_migrate' when 'v' then 'alter view %I owner to playlog_migrate'
                         else 'alter table %I owner to playlog_migrate' end, o.name);
        end loop;
        for o in select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                  where n.nspname = 'public' and pg_get_userbyid(p.proowner) = 'playlog' loop
          execute format('alter function %s owner to playlog_migrate', o.sig);
        end loop;
      end \$\$;" >/dev/null
  fi
}

# stop_pg [MODE]: fast (default, a clean stop) or immediate (a crash: no checkpoint, recovery on start).
stop_pg() {
  local mode=${1:-fast}
  pg_bin
  if ! pg_running; then log "postgres not running"; return 0; fi
  log "stopping postgres ($mode)"
  as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m "$mode" -w -t 60 stop >/dev/null
  log "postgres stopped"
}

# Remove the current cluster's data, and the directory it lives in when .stack/ only links to it.
wipe_pg() {
  local target
  if [[ -L $PG_DIR ]]; then target="$(readlink "$PG_DIR")"; rm -f "$PG_DIR"; rm -rf "${target:?}"; else rm -rf "${PG_DIR:?}"; fi
}

# ---------------------------------------------------------------- env

# The apps' principals (`env --as APP`); migrate has a database role only, ingest Kafka only.
APPS=(ingest loader reporter keys migrate admin)

# env_principal APP BROKERS PG_PORT [EDGE_BROKERS]: the exports that make APP connect as itself: its Kafka
# client settings (mutual TLS with its certificate), its DATABASE_URL with its role where it has one (none
# for ingest, or when PG_PORT is empty: the edge has no database), and the key-feed and gate secrets its job
# needs. EDGE_BROKERS: the reporter's edge connection, for its gate markers (two sites).
env_principal() {
  local app=$1 brokers=$2 pg_port=$3 edge=${4:-} pki role
  pki="$(pki_dir)"
  if [[ $app != migrate ]]; then
    echo "export KAFKA_BROKERS=$brokers"
    echo "export KAFKA_SECURITY_PROTOCOL=ssl"
    echo "export KAFKA_SSL_CA_LOCATION=$pki/ca.crt"
    echo "export KAFKA_SSL_CERTIFICATE_LOCATION=$pki/$app.crt"
    echo "export KAFKA_SSL_KEY_LOCATION=$pki/$app.key"
  fi
  if [[ $app == reporter && -n $edge ]]; then
    echo "export EDGE_KAFKA_BROKERS=$edge"
    echo "export EDGE_KAFKA_SECURITY_PROTOCOL=ssl"
    echo "export EDGE_KAFKA_SSL_CA_LOCATION=$pki/ca.crt"
    echo "export EDGE_KAFKA_SSL_CERTIFICATE_LOCATION=$pki/$app.crt"
    echo "export EDGE_KAFKA_SSL_KEY_LOCATION=$pki/$app.key"
  fi
  case $app in
    admin) role=playlog ;;
    ingest) role="" ;;
    *) role="playlog_$app" ;;
  esac
  if [[ -n $role && -n $pg_port ]]; then
    echo "export DATABASE_URL='postgres://$role@127.0.0.1:$pg_port/playlog?sslmode=verify-full&sslrootcert=$pki/ca.crt&sslcert=$pki/$app.crt&sslkey=$pki/$app.key'"
  fi
  case $app in
    ingest) echo "export KEY_FEED_PUBLIC_KEY_FILE=$pki/key-feed.pub" ;;
    keys) echo "export KEY_FEED_SIGNING_KEY_FILE=$pki/key-feed.key" ;;
    loader) echo "export KEY_FEED_SIGNING_KEY_FILE=$pki/key-feed.key"; echo "export GATE_SECRET_FILE=$pki/gate.secret" ;;
    reporter) echo "export GATE_SECRET_FILE=$pki/gate.secret" ;;
  esac
  return 0
}

# parse_env_args ARGS...: sets ENV_SITE (the first word, if any) and ENV_AS (--as APP); exit 2 on anything else.
parse_env_args() {
  ENV_SITE="" ENV_AS=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --as)
        [[ -n ${2:-} ]] || { echo "stack: env --as needs an app: ${APPS[*]}" >&2; exit 2; }
        [[ " ${APPS[*]} " == *" $2 "* ]] || { echo "stack: env --as: unknown app $2 (one of ${APPS[*]})" >&2; exit 2; }
        ENV_AS=$2; shift 2 ;;
      --as=*) set -- --as "${1#--as=}" "${@:2}" ;;
      -*) echo "stack: env: unknown option $1" >&2; exit 2 ;;
      *) [[ -z $ENV_SITE ]] || { echo "stack: env: unexpected $1" >&2; exit 2; }; ENV_SITE=$1; shift ;;
    esac
  done
}
