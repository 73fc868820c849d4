import type { Knex } from 'knex';

/**
 * What the reporter needs to know about a day without scanning it: per client and 15-minute bucket
 * (UTC-aligned; every time zone's midnight falls on one), how many reportable plays are stored and when
 * the last of them was loaded. The loader keeps it in the same transaction as the plays, so the two
 * always agree. A plain report run finds missed days and changed days from it, and a day's
 * fingerprint (count, last load) is a sum over 96 rows instead of a count over millions.
 * Synthetic plays are left out: they are never reported.
 *
 * `select refresh_play_buckets(from_day, to_day)` recomputes the buckets of those UTC days from the
 * plays, and returns their plays: the backfill here, and the repair for plays changed by hand (README,
 * Operations).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table if not exists play_buckets (
      client          text not null,
      bucket          timestamptz not null,
      plays           bigint not null,
      last_loaded_at  timestamptz not null,
      primary key (client, bucket)
    );
    create index if not exists play_buckets_bucket on play_buckets (bucket);

    create or replace function refresh_play_buckets(from_day date, to_day date) returns bigint
    language sql as $$
      delete from play_buckets where bucket >= from_day::timestamp at time zone 'UTC' and bucket < (to_day + 1)::timestamp at time zone 'UTC';
      insert into play_buckets (client, bucket, plays, last_loaded_at)
      select client, date_bin('15 minutes', played_at, timestamptz '1970-01-01 00:00:00+00'), count(*), max(loaded_at)
        from plays
       where played_at >= from_day::timestamp at time zone 'UTC' and played_at < (to_day + 1)::timestamp at time zone 'UTC' and not synthetic
       group by 1, 2;
      select coalesce(sum(plays), 0)::bigint from play_buckets
       where bucket >= from_day::timestamp at time zone 'UTC' and bucket < (to_day + 1)::timestamp at time zone 'UTC';
    $$;

    select refresh_play_buckets('1970-01-01', '9999-12-31');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists refresh_play_buckets(date, date); drop table if exists play_buckets');
}
