#!/bin/bash
# docker/compose.yaml's `pki` service: the stack's CA and every principal's certificate into the volume
# /pki, made by the local stack's own tools/stack/pki.sh (mounted at /stack), once. Then each file goes to
# the user that reads it: the brokers' to Kafka's (uid 1000 in apache/kafka), PostgreSQL's to postgres
# (999), the apps' to uid 10001 (docker/Dockerfile). Runs in the postgres image, which has openssl.
set -euo pipefail
STACK_ROOT=/
log() { echo "pki: $*"; }
err() { echo "pki: ERROR: $*" >&2; }
export PLAYLOG_PKI_HOSTS="DNS:kafka,DNS:postgres"
# shellcheck source=tools/stack/pki.sh
source /stack/pki.sh
ensure_pki
cd /pki
chmod 755 . && chmod 644 ./*.crt ./*.pub
chown 1000 broker.* admin.* && chown 999 postgres.* && chown 10001 ingest.* loader.* reporter.* keys.* migrate.* key-feed.* gate.secret
