-- Playlog's PostgreSQL roles: one per part, each with only what it uses (docs/security.md, "Postgres").
-- Run once per PostgreSQL cluster by its administrator (the local stack runs it on every `up`); safe to run
-- again. It makes the roles without passwords: give each one (ALTER ROLE … PASSWORD) or let it log in by
-- client certificate, as the local stack does. What each role may do on the tables is granted by the
-- migrations, which run as playlog_migrate, the owner of the schema (its database's owner too).
do $$
declare
  r text;
begin
  foreach r in array array['playlog_migrate', 'playlog_loader', 'playlog_reporter', 'playlog_keys'] loop
    if not exists (select from pg_roles where rolname = r) then
      execute format('create role %I login', r);
    end if;
  end loop;
end $$;
-- The reporter owns the tables it creates a version at a time (daily_usage's partitions): the migrations
-- hand it daily_usage, which PostgreSQL allows only to a member of the new owner's role.
grant playlog_reporter to playlog_migrate;
