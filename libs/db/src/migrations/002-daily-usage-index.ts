import type { Knex } from 'knex';

/**
 * daily_usage had an 8-column primary key: every report paid for a unique index on millions of rows
 * whose uniqueness the GROUP BY that produces them already guarantees. Rows are only ever read by
 * (client, day, version), so that is the index they keep.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table daily_usage drop constraint daily_usage_pkey;
    create index daily_usage_version on daily_usage (client, day, version);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop index daily_usage_version;
    alter table daily_usage add primary key (client, day, version, log_type, country, track_id, release_id, play_mode);
  `);
}
