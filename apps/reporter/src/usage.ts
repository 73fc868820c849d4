import { escapeIdentifier, escapeLiteral, type Session } from '@playlog/db';

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

/** The day's range on play_buckets' 15-minute buckets (every zone's midnight falls on one). */
function bucketsInDay(day: string, tz: string): string {
  return `bucket >= (${day}::date::timestamp at time zone ${tz}) and bucket < ((${day}::date + 1)::timestamp at time zone ${tz})`;
}

/** Clients with reportable plays on the day, plus those already reported for it (a day can only grow). */
export async function clientsForDay(db: Session, day: string, timezone: string): Promise<string[]> {
  const r = await db.query<{ client: string }>(
    `select client from play_buckets where ${bucketsInDay('$1', '$2')} group by client having sum(plays) > 0
     union select client from report_versions where day = $1::date
     order by client`,
    [day, timezone],
  );
  return r.rows.map((x) => x.client);
}

export interface ClientDay {
  client: string;
  day: string;
}

/**
 * Every (client, day) from `from` to `to` (days in the zone) that has reportable plays or an issued
 * version: what a plain run goes through, reading the 15-minute buckets, never the plays.
 */
export async function clientDays(db: Session, from: string, to: string, timezone: string): Promise<ClientDay[]> {
  const r = await db.query<ClientDay>(
    `select client, (bucket at time zone $3)::date::text as day from play_buckets
      where bucket >= ($1::date::timestamp at time zone $3) and bucket < (($2::date + 1)::timestamp at time zone $3)
      group by 1, 2 having sum(plays) > 0
     union select client, day::text from report_versions where day between $1::date and $2::date
     order by day, client`,
    [from, to, timezone],
  );
  return r.rows;
}

/**
 * What the day's report is computed from, in one string: equal strings mean an identical report. Plays
 * are insert-only (deduplicated on arrival), so their count and latest load time change whenever a
 * late play arrives. Read from the 15-minute buckets the loader keeps with the plays (the same count and
 * the same latest load time as the plays themselves, in 96 rows instead of a scan of the day).
 */
export async function fingerprint(db: Session, s: DayScope): Promise<{ fingerprint: string; plays: number }> {
  const r = await db.query<{ plays: number; last: string | null }>(
    `select coalesce(sum(plays), 0)::bigint as plays, max(last_loaded_at)::text as last from play_buckets
      where client = $1 and ${bucketsInDay('$2', '$3')}`,
    [s.client, s.day, s.timezone],
  );
  const { plays, last } = r.rows[0]!;
  return { fingerprint: `${plays}|${last ?? '-'}|${s.timezone}|${s.thresholdSeconds}`, plays };
}

/**
 * How the day's aggregates are grouped. `keyed` (the default): log type, country and track folded into
 * one bigint whose order is theirs (log type, then country by bytes, then track), then release and play
 * mode (collate "C"): the groups come out of the sorted aggregate in daily-usage.csv's order, with
 * most comparisons settled by one integer, so the table is stored in that order and the file is
 * copied from it without a second sort (bench/reporter: aggregate and file 16.2 → 12.0 s on a 10M-play
 * day, same bytes). The key holds what Playlog stores (log type subscription or catalogue, a country of
 * two ASCII letters, a track id from 0); anything else gets no key, its group decodes to NULLs, and
 * `DailyOrderCheck` sends the run to `exact`: the same groups, integer columns first (15.5 → 10.5 s
 * against the columns in file order), sorted again for the file.
 */
export type AggregatePlan = 'keyed' | 'exact';

const GROUP_KEY = `case when octet_length(country) = 2 then
    ((case log_type when 'catalogue' then 0 when 'subscription' then 1 end)::int8 << 48)
    | (ascii(country)::int8 << 40) | (ascii(substr(country, 2))::int8 << 32) | track_id::int8 end`;
/**
 * A key's log type and country; NULL for none (no key, a negative track, a country that is not two
 * ASCII characters). Its track is its low 31 bits (a negative track made the key negative: no log type).
 */
const KEY_LOG_TYPE = `case k >> 48 when 0 then 'catalogue' when 1 then 'subscription' end`;
const KEY_COUNTRY = `case when (k >> 40 & 255) between 1 and 127 and (k >> 32 & 255) between 1 and 127
    then chr((k >> 40 & 255)::int) || chr((k >> 32 & 255)::int) end::char(2)`;

/**
 * Computes the day's aggregates straight into the table that keeps them for this version (`leaf`, see
 * libs/db migration 005), in one pass: `CREATE TABLE … AS` may run in parallel workers, where
 * `INSERT … SELECT` may not. Returns the row count. `attachAggregates` then makes the table part of
 * daily_usage, at the end of the report's transaction. Values are escaped literals: CREATE TABLE AS
 * takes no parameters. See AggregatePlan for the two groupings.
 */
export async function aggregateDay(
  db: Session,
  s: DayScope,
  version: number,
  leaf: string,
  plan: AggregatePlan = 'keyed',
): Promise<number> {
  const figures = `count(*) as streams, count(*) filter (where total_time_played >= ${s.thresholdSeconds}) as royalty_bearing_streams,
            count(distinct user_id) as unique_listeners, sum(total_time_played) as seconds_played`;
  const where = `client = ${lit(db, s.client)} and ${inDay(`${lit(db, s.day)}`, lit(db, s.timezone))} and not synthetic`;
  const head = `${lit(db, s.client)}::text as client, ${lit(db, s.day)}::date as day, ${version}::integer as version`;
  const r = await db.query(
    plan === 'keyed'
      ? `create table ${ident(db, leaf)} as
         select ${head}, ${KEY_LOG_TYPE} as log_type, ${KEY_COUNTRY} as country, (k & 2147483647)::integer as track_id,
                release_id, pm collate "default" as play_mode, ${figures}
           from (select ${GROUP_KEY} as k, release_id, coalesce(play_mode, '') collate "C" as pm, user_id, total_time_played
                   from plays where ${where}) p
          group by k, release_id, pm`
      : `create table ${ident(db, leaf)} as
         select ${head}, log_type, country, track_id, release_id, coalesce(play_mode, '') as play_mode, ${figures}
           from plays where ${where}
          group by track_id, release_id, country, log_type, coalesce(play_mode, '')`,
  );
  return r.rowCount ?? 0;
}

/**
 * Makes the version's aggregates part of daily_usage (for the next run and dashboards). Called last in
 * the report's transaction: attaching locks the month's partition against other attaches until commit.
 */
export async function attachAggregates(db: Session, s: DayScope, version: number, leaf: string): Promise<void> {
  await db.query('select attach_daily_usage($1, $2, $3, $4)', [leaf, s.client, s.day, version]);
}

function lit(db: Session, v: string | number): string {
  return typeof v === 'number' ? String(v) : escapeLiteral(v);
}

function ident(db: Session, v: string): string {
  return escapeIdentifier(v);
}

/**
 * COPY … TO STDOUT for daily-usage.csv (COPY takes no parameters either), from the version's table:
 * `sorted`, or `stored`: in the order the table was written (a `keyed` aggregate writes it in the file's
 * order; run `STORED_ORDER` first in the transaction so that the scan reads it from its first page, in
 * one process, and check the rows with DailyOrderCheck).
 */
export function dailyUsageCopy(db: Session, s: DayScope, leaf: string, order: 'sorted' | 'stored' = 'sorted'): string {
  return `copy (
    select ${lit(db, s.day)} as date, ${lit(db, s.client)} as client, log_type, country, track_id, release_id,
           nullif(play_mode, '') as play_mode, streams, royalty_bearing_streams, unique_listeners, seconds_played
      from ${ident(db, leaf)}${order === 'sorted' ? `\n     order by ${DAILY_ORDER}` : ''}
  ) to stdout with (format csv, header true)`;
}

/** daily-usage.csv's row order (the contract's). */
const DAILY_ORDER = 'log_type collate "C", country collate "C", track_id, release_id, play_mode collate "C"';

/** Settings for reading a table in its stored order: one process, from its first page (not where another scan is). */
export const STORED_ORDER = ['set local max_parallel_workers_per_gather = 0', 'set local synchronize_seqscans = off'];

/** client-usage.csv's first line: the names of its columns (per-play.ts writes its rows). */
export const CLIENT_USAGE_HEADER =
  'report_date,client,play_id,date_time_played,received_at,log_type,user_id,country,track_id,release_id,format_id,' +
  'play_mode,end_reason,total_time_played,royalty_bearing,user_agent,api_key_name\n';

/** A part of a day: the plays with played_at in [from, to). */
export interface Range {
  from: Date;
  to: Date;
}
