/**
 * daily_usage's columns, as migration 001 created the table and 005 created it again (partitioned).
 * Frozen with those migrations: a later change to the table is a new migration, never an edit here.
 */
export const DAILY_USAGE_COLUMNS = `
      client                  text not null,
      day                     date not null,
      version                 integer not null,
      log_type                text not null,
      country                 char(2) not null,
      track_id                integer not null,
      release_id              integer not null,
      play_mode               text not null default '',
      streams                 bigint not null,
      royalty_bearing_streams bigint not null,
      unique_listeners        bigint not null,
      seconds_played          bigint not null`;
