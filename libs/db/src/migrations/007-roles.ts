import type { Knex } from 'knex';

/**
 * One role per part, each with only the privileges it uses (docs/security.md, "Postgres"). The roles are
 * made by the cluster's administrator (libs/db/sql/roles.sql; the local stack runs it); the schema belongs
 * to playlog_migrate, which runs this.
 * - playlog_loader reads the topic's untrusted data, so it may only add plays (and their buckets and the
 *   gate's marks), read the keys it publishes, and create or drop day partitions through two functions
 *   that refuse to drop anything inside the 62 days reports may restate. It cannot touch a report table.
 * - playlog_reporter reads plays and writes its own tables; it owns daily_usage, whose partitions it
 *   creates a version at a time.
 * - playlog_keys manages API keys.
 * Ingest has no role: it never reaches Postgres.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    do $$
    declare
      missing text := (select string_agg(r, ', ') from unnest(array['playlog_loader', 'playlog_reporter', 'playlog_keys']) r
                        where not exists (select from pg_roles where rolname = r));
    begin
      if missing is not null then
        raise exception 'roles % do not exist: run libs/db/sql/roles.sql on this PostgreSQL cluster first (npm run stack -- up does)', missing;
      end if;
    end $$;

    revoke all on schema public from public;
    grant usage on schema public to playlog_loader, playlog_reporter, playlog_keys;
    revoke execute on all functions in schema public from public;

    -- A day partition for the loader, created by the schema's owner.
    alter function ensure_play_partition(date) security definer set search_path = public, pg_temp;
    grant execute on function ensure_play_partition(date) to playlog_loader;

    -- Retention: drops the day partitions before cutoff, never one of the last 62 days (the window reports
    -- may restate, plus one), whatever the caller asks.
    create function drop_play_partitions_before(cutoff date) returns setof date
    language plpgsql security definer set search_path = public, pg_temp as $$
    declare
      r record;
    begin
      if cutoff > current_date - 62 then
        raise exception 'drop_play_partitions_before(%): partitions of the last 62 days are kept', cutoff;
      end if;
      for r in select c.relname as name, to_date(substring(c.relname from 8), 'YYYYMMDD') as day
                 from pg_inherits i join pg_class c on c.oid = i.inhrelid
                where i.inhparent = 'plays'::regclass and c.relname ~ '^plays_p[0-9]{8}$' loop
        if r.day < cutoff then
          execute format('drop table if exists %I', r.name);
          return next r.day;
        end if;
      end loop;
    end $$;
    revoke execute on function drop_play_partitions_before(date) from public;
    grant execute on function drop_play_partitions_before(date) to playlog_loader;

    grant select, insert on plays to playlog_loader;
    grant select, insert, update on play_buckets to playlog_loader;
    grant insert on gate_marks to playlog_loader;
    grant select on api_keys to playlog_loader;
    grant select on report_versions to playlog_loader;

    grant select on plays, play_buckets, api_keys to playlog_reporter;
    grant select, delete on gate_marks to playlog_reporter;
    grant select, insert, update on report_versions to playlog_reporter;
    grant select, insert, update, delete on report_segments to playlog_reporter;
    grant create on schema public to playlog_reporter;
    grant execute on function attach_daily_usage(text, text, date, integer) to playlog_reporter;

    grant select, insert, update on api_keys to playlog_keys;
  `);
  // daily_usage and every partition under it (months, versions) to the reporter, which adds to them.
  await ownDailyUsage(knex, 'playlog_reporter');
}

export async function down(knex: Knex): Promise<void> {
  await ownDailyUsage(knex, 'current_user');
  await knex.raw(`
    drop function drop_play_partitions_before(date);
    alter function ensure_play_partition(date) security invoker reset search_path;
    revoke all on all tables in schema public from playlog_loader, playlog_reporter, playlog_keys;
    revoke all on schema public from playlog_loader, playlog_reporter, playlog_keys;
    grant execute on all functions in schema public to public;
    grant usage on schema public to public;
  `);
}

/** Hands daily_usage and every table under it (months, versions) to `owner`. */
async function ownDailyUsage(knex: Knex, owner: 'playlog_reporter' | 'current_user'): Promise<void> {
  await knex.raw(`
    do $$
    declare
      r record;
    begin
      for r in select c.oid::regclass as t from pg_class c
                where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
                  and (c.relname = 'daily_usage' or c.relname like 'daily\\_usage\\_%') loop
        execute format('alter table %s owner to ${owner}', r.t);
      end loop;
    end $$;
  `);
}
