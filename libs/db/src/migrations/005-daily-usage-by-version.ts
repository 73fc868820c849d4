import type { Knex } from 'knex';
import { dailyUsageLeaf } from '../daily-usage.js';
import { DAILY_USAGE_COLUMNS } from './daily-usage-columns.js';

const COLUMNS = `client, day, version, log_type, country, track_id, release_id, play_mode,
  streams, royalty_bearing_streams, unique_listeners, seconds_played`;

/**
 * daily_usage holds one table per report version, so that a report writes its aggregates once: the
 * reporter computes them with `CREATE TABLE … AS` (which may run in parallel workers, where
 * `INSERT … SELECT` may not) straight into that version's table, then attaches it (bench/reporter: the
 * temporary table and second INSERT this replaces cost 1.8–3.7 s of a 10M-play day).
 *
 *   daily_usage                      partitioned by range (day)
 *     daily_usage_mYYYYMM            one per month, partitioned by range (client, day, version)
 *       daily_usage_YYYYMMDD_vN_<h>  one per issued version (<h>: a hash of the client), no index
 *
 * A version is read whole by (client, day, version), which prunes to its table; a month or a day by
 * `day`. Rows already stored move into their versions' tables.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table daily_usage rename to daily_usage_flat;
    create table daily_usage (
${DAILY_USAGE_COLUMNS}
    ) partition by range (day);

    -- Attaches a version's table (made by CREATE TABLE AS, columns in daily_usage's order) under its
    -- month, creating the month's partition when it is the first. The NOT NULL and CHECK constraints
    -- are added in one pass over the rows, and let ATTACH skip its own.
    create function attach_daily_usage(leaf text, p_client text, p_day date, p_version integer) returns void
    language plpgsql as $$
    declare
      month_start date := date_trunc('month', p_day)::date;
      month text := 'daily_usage_m' || to_char(p_day, 'YYYYMM');
    begin
      if to_regclass(month) is null then
        perform pg_advisory_xact_lock(hashtext('attach_daily_usage'));
        if to_regclass(month) is null then
          execute format('create table %I (like daily_usage including defaults) partition by range (client, day, version)', month);
          execute format('alter table daily_usage attach partition %I for values from (%L) to (%L)',
                         month, month_start, (month_start + interval '1 month')::date);
        end if;
      end if;
      execute format(
        'alter table %I alter column client set not null, alter column day set not null, alter column version set not null,
           alter column log_type set not null, alter column country set not null, alter column track_id set not null,
           alter column release_id set not null, alter column play_mode set not null, alter column streams set not null,
           alter column royalty_bearing_streams set not null, alter column unique_listeners set not null,
           alter column seconds_played set not null,
           add constraint %I check (client = %L and day = %L and version = %L)',
        leaf, leaf || '_is', p_client, p_day, p_version);
      execute format('alter table %I attach partition %I for values from (%L, %L, %L) to (%L, %L, %L)',
                     month, leaf, p_client, p_day, p_version, p_client, p_day, p_version + 1);
    end $$;
  `);
  const versions = await knex.raw<{ rows: { client: string; day: string; version: number }[] }>(
    `select distinct client, day::text as day, version from daily_usage_flat order by 2, 1, 3`,
  );
  for (const v of versions.rows) {
    const leaf = dailyUsageLeaf(v.client, v.day, v.version);
    await knex.raw(`create table ?? as select ${COLUMNS} from daily_usage_flat where client = ? and day = ? and version = ?`, [
      leaf,
      v.client,
      v.day,
      v.version,
    ]);
    await knex.raw('select attach_daily_usage(?, ?, ?, ?)', [leaf, v.client, v.day, v.version]);
  }
  await knex.raw('drop table daily_usage_flat');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create table daily_usage_flat (like daily_usage including defaults);
    insert into daily_usage_flat select * from daily_usage;
    drop table daily_usage;
    drop function attach_daily_usage(text, text, date, integer);
    alter table daily_usage_flat rename to daily_usage;
    create index daily_usage_version on daily_usage (client, day, version);
  `);
}
