import type { Knex } from 'knex';

/**
 * The completeness gate's markers (libs/schema gateMarker): the loader records each marker it passes,
 * once everything before it on that partition is stored; the reporter waits until every partition's
 * marker of its run is here. Rows are small and few (one per partition per report run), pruned by the
 * reporter after a week.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table if not exists gate_marks (
      run_id       uuid not null,
      partition    integer not null,
      topic        text not null,
      kafka_offset bigint not null,
      recorded_at  timestamptz not null default now(),
      primary key (run_id, partition)
    );
    create index if not exists gate_marks_recorded_at on gate_marks (recorded_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists gate_marks');
}
