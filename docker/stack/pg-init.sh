#!/bin/bash
# docker/compose.yaml's PostgreSQL, first start: Playlog's roles (libs/db/sql/roles.sql, mounted) and the
# database playlog, owned by playlog_migrate. The roles log in by certificate only: no passwords.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -f /playlog/roles.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c 'create database playlog owner playlog_migrate'
