import type { Knex } from 'knex';

/**
 * The key feed's generation (libs/db keys readKeySnapshot): one row, bumped under its row lock by every
 * snapshot the loader or the keys CLI publishes, so later snapshots always outnumber earlier ones.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table key_feed (
      singleton  boolean primary key default true check (singleton),
      generation bigint not null default 0
    );
    insert into key_feed default values;
    grant select, update on key_feed to playlog_loader, playlog_keys;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table key_feed');
}
