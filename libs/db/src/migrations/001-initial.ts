import type { Knex } from 'knex';
import { DAILY_USAGE_COLUMNS } from './daily-usage-columns.js';

/**
 * The first schema: API keys, plays (partitioned by day of played_at, UTC), and the reporter's
 * versioned reports with their aggregates.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table api_keys (
      id          bigint generated always as identity primary key,
      client      text not null check (client ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
      name        text not null,
      key_hash    bytea not null unique,
      key_prefix  text not null,
      created_at  timestamptz not null default now(),
      revoked_at  timestamptz
    );

    create table plays (
      play_id            uuid not null,
      played_at          timestamptz not null,
      client             text not null,
      api_key_name       text not null,
      client_play_id     text,
      log_type           text not null,
      user_id            text not null,
      country            char(2) not null,
      track_id           integer not null,
      release_id         integer not null,
      format_id          integer not null,
      play_mode          text,
      end_reason         text,
      date_time_played   text not null,
      total_time_played  integer not null,
      user_agent         text,
      synthetic          boolean not null default false,
      received_at        timestamptz not null,
      loaded_at          timestamptz not null default now(),
      primary key (play_id, played_at)
    ) partition by range (played_at);

    -- One partition per UTC day, created on demand by the loader (ensure_play_partition) and ahead of time.
    create function ensure_play_partition(day date) returns void language plpgsql as $$
    declare
      name text := 'plays_p' || to_char(day, 'YYYYMMDD');
    begin
      if to_regclass(name) is null then
        execute format(
          'create table if not exists %I partition of plays for values from (%L) to (%L)',
          name, (day::timestamp at time zone 'UTC'), ((day + 1)::timestamp at time zone 'UTC'));
      end if;
    exception when duplicate_table then
      null; -- another loader created it first
    end $$;

    create index plays_client_played_at on plays (client, played_at);

    create table report_versions (
      client          text not null,
      day             date not null,
      version         integer not null,
      status          text not null check (status in ('final', 'provisional')),
      generated_at    timestamptz not null default now(),
      timezone        text not null,
      threshold_seconds integer not null,
      play_count      bigint not null,
      row_count       integer not null,
      fingerprint     text not null,
      path            text not null,
      files           jsonb not null,
      primary key (client, day, version)
    );

    create table daily_usage (
${DAILY_USAGE_COLUMNS},
      primary key (client, day, version, log_type, country, track_id, release_id, play_mode),
      foreign key (client, day, version) references report_versions (client, day, version)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop table if exists daily_usage;
    drop table if exists report_versions;
    drop table if exists plays;
    drop function if exists ensure_play_partition(date);
    drop table if exists api_keys;
  `);
}
