#!/bin/bash
# First start of the local PostgreSQL (docker-entrypoint-initdb.d): Playlog's roles (roles.sql, the same
# file as libs/db/sql/roles.sql: ops/check.sh holds them equal), each with its throwaway local password
# from the Secret playlog-db-roles, and the database playlog owned by playlog_migrate.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -f /docker-entrypoint-initdb.d/roles.sql
for role in migrate loader reporter keys; do
  var="PLAYLOG_${role^^}_PASSWORD"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v pw="${!var}" \
    -c "alter role playlog_$role password :'pw'"
done
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c 'create database playlog owner playlog_migrate'
