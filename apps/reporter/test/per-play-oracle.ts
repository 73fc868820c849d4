import { escapeLiteral } from '@playlog/db';
import type { DayScope, Range } from '../src/usage.js';

/**
 * The oracle for client-usage.csv: the file as Postgres itself renders it, one CSV COPY of the plays
 * with the report's expressions, in the contract's order. This is how the reporter wrote the file
 * until per-play.ts took the rendering over (for its cost: bench/reporter); the tests hold the
 * reporter's bytes to it. The whole day with its header, or, with `range`, that part's rows only.
 */
export function clientUsageCopy(s: DayScope, range?: Range): string {
  const day = escapeLiteral(s.day);
  const tz = escapeLiteral(s.timezone);
  const where = range
    ? `played_at >= ${escapeLiteral(range.from.toISOString())}::timestamptz and played_at < ${escapeLiteral(range.to.toISOString())}::timestamptz`
    : `played_at >= (${day}::date::timestamp at time zone ${tz}) and played_at < ((${day}::date + 1)::timestamp at time zone ${tz})`;
  return `copy (
    select ${day} as report_date, client, play_id, date_time_played,
           to_char(received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as received_at,
           log_type, ${neutralised('user_id')} as user_id, country, track_id, release_id, format_id,
           play_mode, end_reason, total_time_played,
           case when total_time_played >= ${s.thresholdSeconds} then 'true' else 'false' end as royalty_bearing,
           ${neutralised('user_agent')} as user_agent, ${neutralised('api_key_name')} as api_key_name
      from plays
     where client = ${escapeLiteral(s.client)}
       and ${where} and not synthetic
     order by played_at, date_time_played collate "C", play_id
  ) to stdout with (format csv, header ${range ? 'false' : 'true'})`;
}

/** README, Reports: a cell beginning with `=`, `+`, `-`, `@`, `'`, a tab or a CR gets a leading apostrophe. */
function neutralised(column: string): string {
  return `case when ascii(${column}) in (45, 61, 43, 64, 39, 9, 13) then '''' || ${column} else ${column} end`;
}
