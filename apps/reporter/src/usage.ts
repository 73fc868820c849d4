import type pg from 'pg';

/**
 * The SQL behind a day's report. A play's day is the calendar date of its instant in the report's time
 * zone, so the day is the half-open range [D 00:00, D+1 00:00) in that zone (DST-safe). Synthetic
 * (smoke-test) plays are never reported. Everything is aggregated in Postgres; nothing per play is held
 * in memory.
 */
export interface DayScope {
  client: string;
  day: string;
  timezone: string;
  thresholdSeconds: number;
}

/** The day's range on played_at, with the day and zone as the given SQL expressions (parameters or literals). */
function inDay(day: string, tz: string): string {
  return `played_at >= (${day}::date::timestamp at time zone ${tz}) and played_at < ((${day}::date + 1)::timestamp at time zone ${tz})`;
}

const IN_DAY = inDay('$2', '$3');

/** Clients with reportable plays on the day, plus those already reported for it (a day can only grow). */
export async function clientsForDay(db: pg.ClientBase, day: string, timezone: string): Promise<string[]> {
  const r = await db.query<{ client: string }>(
    `select client from plays where ${inDay('$1', '$2')} and not synthetic group by client
     union select client from report_versions where day = $1::date
     order by client`,
    [day, timezone],
  );
  return r.rows.map((x) => x.client);
}

/**
 * What the day's report is computed from, in one string: equal strings mean an identical report. Plays
 * are insert-only (deduplicated on arrival), so their count and latest load time change whenever a
 * late play arrives.
 */
export async function fingerprint(db: pg.ClientBase, s: DayScope): Promise<{ fingerprint: string; plays: number }> {
  const r = await db.query<{ plays: number; last: string | null }>(
    `select count(*)::bigint as plays, max(loaded_at)::text as last from plays where client = $1 and ${IN_DAY} and not synthetic`,
    [s.client, s.day, s.timezone],
  );
  const { plays, last } = r.rows[0]!;
  return { fingerprint: `${plays}|${last ?? '-'}|${s.timezone}|${s.thresholdSeconds}`, plays };
}

/**
 * Computes the day's aggregates into a temporary table (dropped at commit): CREATE TABLE AS may use
 * parallel workers, where INSERT … SELECT may not. Both the stored figures and daily-usage.csv are read
 * from it. Returns the row count. Values are escaped literals: CREATE TABLE AS takes no parameters.
 */
export async function aggregateDay(db: pg.ClientBase, s: DayScope): Promise<number> {
  const r = await db.query(
    `create temp table report_agg on commit drop as
     select log_type, country, track_id, release_id, coalesce(play_mode, '') as play_mode,
            count(*) as streams, count(*) filter (where total_time_played >= ${s.thresholdSeconds}) as royalty_bearing_streams,
            count(distinct user_id) as unique_listeners, sum(total_time_played) as seconds_played
       from plays
      where client = ${lit(db, s.client)} and ${inDay(`${lit(db, s.day)}`, lit(db, s.timezone))} and not synthetic
      group by log_type, country, track_id, release_id, coalesce(play_mode, '')`,
  );
  return r.rowCount ?? 0;
}

/** Keeps the aggregates in daily_usage under the given version, for the next run and dashboards. */
export async function storeAggregates(db: pg.ClientBase, s: DayScope, version: number): Promise<void> {
  await db.query(
    `insert into daily_usage (client, day, version, log_type, country, track_id, release_id, play_mode,
                              streams, royalty_bearing_streams, unique_listeners, seconds_played)
     select $1, $2::date, $3, log_type, country, track_id, release_id, play_mode,
            streams, royalty_bearing_streams, unique_listeners, seconds_played
       from report_agg`,
    [s.client, s.day, version],
  );
}

function lit(db: pg.ClientBase, v: string | number): string {
  return typeof v === 'number' ? String(v) : (db as pg.Client).escapeLiteral(v);
}

/**
 * COPY … TO STDOUT for daily-usage.csv (COPY takes no parameters either): from the run's aggregates,
 * or, with `version`, from the figures stored for that version (to restore a missing folder).
 */
export function dailyUsageCopy(db: pg.ClientBase, s: DayScope, version?: number): string {
  const from =
    version === undefined
      ? 'report_agg'
      : `daily_usage where client = ${lit(db, s.client)} and day = ${lit(db, s.day)}::date and version = ${version}`;
  return `copy (
    select ${lit(db, s.day)} as date, ${lit(db, s.client)} as client, log_type, country, track_id, release_id,
           nullif(play_mode, '') as play_mode, streams, royalty_bearing_streams, unique_listeners, seconds_played
      from ${from}
     order by log_type collate "C", country collate "C", track_id, release_id, play_mode collate "C"
  ) to stdout with (format csv, header true)`;
}

/**
 * A text cell a spreadsheet would run as a formula (OWASP "CSV injection"): one that begins with `=`,
 * `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe, which spreadsheets show as text.
 * A cell that begins with an apostrophe gets one more, so the rule can be undone: the value sent is the
 * cell without one leading apostrophe, where it begins with one. README, Reports, says the same.
 */
function neutralised(column: string): string {
  return `case when ${column} ~ '^[-=+@''\\t\\r]' then '''' || ${column} else ${column} end`;
}

/** COPY … TO STDOUT for client-usage.csv: one row per play, after MassiveMusic's Client Usage Report. */
export function clientUsageCopy(db: pg.ClientBase, s: DayScope): string {
  const day = lit(db, s.day);
  const tz = lit(db, s.timezone);
  return `copy (
    select ${day} as report_date, client, play_id, date_time_played,
           to_char(received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as received_at,
           log_type, ${neutralised('user_id')} as user_id, country, track_id, release_id, format_id,
           play_mode, end_reason, total_time_played,
           case when total_time_played >= ${s.thresholdSeconds} then 'true' else 'false' end as royalty_bearing,
           ${neutralised('user_agent')} as user_agent, ${neutralised('api_key_name')} as api_key_name
      from plays
     where client = ${lit(db, s.client)}
       and ${inDay(day, tz)} and not synthetic
     order by played_at, date_time_played collate "C", play_id
  ) to stdout with (format csv, header true)`;
}
