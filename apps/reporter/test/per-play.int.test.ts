import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { copyOut, type Pool, type PoolClient } from '@playlog/db';
import { freshDatabase } from '@playlog/testing';
import { renderPerPlay } from '../src/per-play.js';
import { hoursOf, onePlan } from '../src/segments.js';
import { CLIENT_USAGE_HEADER } from '../src/usage.js';
import { clientUsageCopy } from './per-play-oracle.js';

// The reporter's per-play rows against Postgres's own CSV of the same plays (the oracle), on values
// the schema would refuse as well as those it takes: the renderer must not depend on ingest's checks.

// The day clocks went back in New York: 25 hours, one of them twice.
const TZ = 'America/New_York';
const D = '2026-11-01';
const scope = { client: 'acme', day: D, timezone: TZ, thresholdSeconds: 30 };
const dayStart = Date.parse('2026-11-01T04:00:00Z');
const dayEnd = Date.parse('2026-11-02T05:00:00Z');

interface Row {
  at: string; // played_at, with microseconds
  id: string;
  dtp: string;
  received: string;
  userId?: string;
  userAgent?: string | null;
  apiKeyName?: string;
  logType?: string;
  playMode?: string | null;
  endReason?: string | null;
  total?: number;
  client?: string;
  synthetic?: boolean;
  ints?: [number, number, number];
}

const iso = (ms: number, micros = 0) => `${new Date(ms).toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function rows(): Row[] {
  const out: Row[] = [];
  let n = 0;
  const add = (r: Omit<Row, 'id'> & { id?: string }) => out.push({ id: uuid(++n), ...r });
  const awkward = ['', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', '=1+2', '+1', '-1', '@x', "'q", '\tt', '\rr', '=a,"b"', 'é ✓', ' lead'];
  // Every awkward value in every text column that takes any, one play each, across the day.
  for (const [i, v] of awkward.entries()) {
    const at = dayStart + 1000 + i * 3_600_000;
    add({ at: iso(at, i), dtp: `dtp ${v}`, received: iso(at + 2000, 999), userId: v, userAgent: v, apiKeyName: v || 'k' });
    add({ at: iso(at + 1, i), dtp: v, received: iso(at + 2001, 500), logType: v, playMode: v, endReason: v });
  }
  // NULLs, and the int4 extremes.
  add({ at: iso(dayStart + 5_000), dtp: 'n', received: iso(dayStart + 6_000), userAgent: null, playMode: null, endReason: null });
  add({ at: iso(dayStart + 5_001), dtp: 'i', received: iso(dayStart + 6_000), ints: [-2147483648, 0, 2147483647], total: -1 });
  add({ at: iso(dayStart + 5_002), dtp: 't', received: iso(dayStart + 6_000), total: 30 });
  add({ at: iso(dayStart + 5_003), dtp: 't', received: iso(dayStart + 6_000), total: 29 });
  // received_at far from now: to_char's years (BC without a sign, five digits and more), infinity as NULL.
  for (const [i, received] of [
    'infinity',
    '-infinity',
    '2300-01-01 00:00:00.999999+00',
    '1700-01-01 00:00:00.999999+00',
    '1999-12-31 23:59:59.999999+00',
    '0001-06-01 00:00:00+00 BC',
    '0044-03-15 12:34:56.789+00 BC',
    '4713-01-01 00:00:00+00 BC',
    '10000-01-01 00:00:00+00',
    '294276-12-31 23:59:59.999999+00',
  ].entries()) {
    add({ at: iso(dayStart + 9_000 + i), dtp: `far ${i}`, received });
  }
  // The day's first instant is in, the next day's first is not; other clients' and synthetic plays are not either.
  add({ at: iso(dayStart), dtp: 'first', received: iso(dayStart) });
  add({ at: iso(dayEnd), dtp: 'next day', received: iso(dayEnd) });
  add({ at: iso(dayStart - 1), dtp: 'day before', received: iso(dayStart) });
  add({ at: iso(dayStart + 7_000), dtp: 'other client', received: iso(dayStart), client: 'other' });
  add({ at: iso(dayStart + 7_000), dtp: 'synthetic', received: iso(dayStart), synthetic: true });
  // The hour that happened twice (01:00 EDT, then 01:00 EST).
  add({ at: iso(Date.parse('2026-11-01T05:30:00Z')), dtp: '01:30 EDT', received: iso(dayStart) });
  add({ at: iso(Date.parse('2026-11-01T06:30:00Z')), dtp: '01:30 EST', received: iso(dayStart) });
  // 3000 plays of one instant (more than a socket chunk), in no order, with date_time_played ties.
  const crowd = Date.parse('2026-11-01T15:00:00Z');
  for (let i = 0; i < 3000; i++) {
    const k = (i * 7919) % 3000;
    add({
      id: uuid(1_000_000 - k),
      at: iso(crowd, 250),
      dtp: `crowd ${k % 17} ${'é'.repeat(k % 3)}`,
      received: iso(crowd + k, k % 1000),
      userAgent: 'u'.repeat(k % 300),
    });
  }
  // Steady plays through the day.
  for (let i = 0; i < 2000; i++) {
    const at = dayStart + Math.floor(((dayEnd - dayStart) * i) / 2000);
    add({
      at: iso(at, (i * 37) % 1000),
      dtp: iso(at),
      received: iso(at + 1500, (i * 53) % 1000),
      userId: `user-${i % 97}`,
      userAgent: i % 2 ? 'AcmeMusic/5.2.0 (iOS 18.1; iPhone15,2)' : 'AcmeCar/2.0',
    });
  }
  return out;
}

async function load(db: Pool, plays: Row[]): Promise<void> {
  for (const d of ['2026-10-31', '2026-11-01', '2026-11-02']) await db.query('select ensure_play_partition($1::date)', [d]);
  for (let i = 0; i < plays.length; i += 500) {
    const batch = plays.slice(i, i + 500);
    await db.query(
      `insert into plays (play_id, played_at, client, api_key_name, log_type, user_id, country, track_id, release_id, format_id,
                          play_mode, end_reason, date_time_played, total_time_played, user_agent, synthetic, received_at)
       select * from unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
                            $9::int[], $10::int[], $11::text[], $12::text[], $13::text[], $14::int[], $15::text[], $16::bool[],
                            $17::timestamptz[])`,
      [
        batch.map((r) => r.id),
        batch.map((r) => r.at),
        batch.map((r) => r.client ?? 'acme'),
        batch.map((r) => r.apiKeyName ?? 'k'),
        batch.map((r) => r.logType ?? 'subscription'),
        batch.map((r) => r.userId ?? 'u'),
        batch.map(() => 'GB'),
        batch.map((r) => r.ints?.[0] ?? 1234),
        batch.map((r) => r.ints?.[1] ?? 500_000),
        batch.map((r) => r.ints?.[2] ?? 26),
        batch.map((r) => (r.playMode === undefined ? 'online' : r.playMode)),
        batch.map((r) => r.endReason ?? null),
        batch.map((r) => r.dtp),
        batch.map((r) => r.total ?? 31),
        batch.map((r) => (r.userAgent === undefined ? 'AcmeMusic/1' : r.userAgent)),
        batch.map((r) => r.synthetic ?? false),
        batch.map((r) => r.received),
      ],
    );
  }
}

async function collect(source: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    source,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        parts.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(parts);
}

async function inTransaction<T>(db: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await db.connect();
  try {
    await c.query('begin isolation level repeatable read read only');
    const r = await fn(c);
    await c.query('commit');
    return r;
  } finally {
    c.release();
  }
}

t.test("the day's hours, rendered by the reporter: Postgres's own CSV of the day, byte for byte", async (t) => {
  const { db } = await freshDatabase(t);
  const plays = rows();
  await load(db, plays);
  const oracle = await inTransaction(db, (c) => collect(c.query(copyOut(clientUsageCopy(scope)))));
  const rendered = await inTransaction(db, async (c) => {
    await onePlan(c);
    const parts: Buffer[] = [Buffer.from(CLIENT_USAGE_HEADER)];
    for (const hour of hoursOf(D, TZ)) parts.push(await collect(renderPerPlay(c, scope, hour)));
    return Buffer.concat(parts);
  });
  const rowsInFile = oracle.toString().split('\n').length - 2 - quotedLineBreaks(oracle); // less the header and the last line's end
  t.equal(
    rowsInFile,
    plays.length - 4,
    "the oracle holds the day's plays: not the next day's, the day before's, another client's or a synthetic one",
  );
  t.equal(rendered.length, oracle.length, 'the same length');
  t.ok(rendered.equals(oracle), 'the same bytes');
});

/** LFs inside quoted cells (they end no row). */
function quotedLineBreaks(csv: Buffer): number {
  let n = 0;
  let quoted = false;
  for (const c of csv) {
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x0a && quoted) n++;
  }
  return n;
}
