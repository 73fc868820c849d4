import type { Queryable } from './connection.js';

export interface GateMark {
  run: string;
  topic: string;
  partition: number;
  offset: number;
}

/** The completeness gate's markers in Postgres (migration 003): what the loader passed, what the reporter awaits. */
export function gateMarks(db: Queryable) {
  return {
    /** Records markers the loader has passed; a marker read again (re-delivery) changes nothing. */
    async record(marks: GateMark[]): Promise<void> {
      if (marks.length === 0) return;
      await db.query(
        `insert into gate_marks (run_id, topic, partition, kafka_offset)
         select * from unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[]) on conflict do nothing`,
        [marks.map((m) => m.run), marks.map((m) => m.topic), marks.map((m) => m.partition), marks.map((m) => m.offset)],
      );
    },

    /** The partitions whose marker of run `run` the loader has passed. */
    async passed(run: string): Promise<number[]> {
      const r = await db.query<{ partition: number }>('select partition from gate_marks where run_id = $1 order by partition', [run]);
      return r.rows.map((x) => x.partition);
    },

    /** Drops the markers of runs older than `days` (the reporter calls this; each run's own are kept for audit). */
    async prune(days: number): Promise<void> {
      await db.query(`delete from gate_marks where recorded_at < now() - make_interval(days => $1)`, [days]);
    },
  };
}

export type GateMarks = ReturnType<typeof gateMarks>;
