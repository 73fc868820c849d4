import type { Knex } from 'knex';

/**
 * The per-hour client-usage segments rendered ahead of a report (apps/reporter segments.ts): which
 * file holds an hour of a client's day, rendered from which plays (the hour's count and latest load
 * time, from play_buckets) and in which form (time zone, threshold, compression). A report copies a
 * segment whose fingerprint is still its hour's, and deletes the day's rows once issued.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table if not exists report_segments (
      client       text not null,
      day          date not null,
      slice        integer not null,
      form         text not null,
      fingerprint  text not null,
      plays        bigint not null,
      bytes        bigint not null,
      path         text not null,
      rendered_at  timestamptz not null default now(),
      primary key (client, day, slice)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists report_segments');
}
