import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { copyOut, createPool, playsWriter, type PoolClient } from '@playlog/db';
import { addDays, normalizePlay, type Play, today } from '@playlog/schema';
import { databaseAs, countRows, freshDatabase, type Teardown } from '@playlog/testing';
import { issueDay } from '../src/report.js';
import { writeClientUsage } from '../src/client-usage.js';
import { segmentFolder } from '../src/folders.js';
import { formOf, hourFingerprints, hoursOf, renderSegments, type Compress } from '../src/segments.js';
import { clientUsageCopy } from './per-play-oracle.js';

// Two days ago in New York: closed, among the days segments are rendered for (today and the two before),
// and every play below (they run three hours into the next day) already in the past whatever the hour now.
// (Yesterday failed CI between midnight and 03:00 in New York: the last plays were in the future.)
const TZ = 'America/New_York';
const NOW = Date.now(); // one instant for the whole file: D stays D even if midnight passes while it runs
const D = addDays(today(TZ, new Date(NOW)), -2);
const HOURS = hoursOf(D, TZ).length; // 24, or 23 or 25 when D is a day clocks change
const start = Date.parse(`${D}T05:00:00Z`) - 3_600_000 * 2; // a little before D's midnight in New York

/** Plays every ~7 minutes across D (and a little either side), with ties on the same instant and awkward cells. */
function plays(from: number, n: number, client = 'acme'): Play[] {
  return Array.from({ length: n }, (_, i) => {
    const at = new Date(start + (from + i) * 7 * 60_000 - ((from + i) % 3 === 0 ? 0 : 1)); // some share an instant
    const r = normalizePlay(
      {
        logType: i % 5 === 0 ? 'catalogue' : 'subscription',
        userId: i % 11 === 0 ? `=cmd${i}` : `user "${i % 13}", x`,
        country: 'GB',
        trackId: 100 + (i % 9),
        releaseId: 7,
        formatId: 26,
        ...(i % 5 === 0 ? { endReason: 'naturalEnd' } : { playMode: 'online' }),
        dateTimePlayed: at.toISOString(),
        totalTimePlayed: (from + i) % 61,
      },
      { client, apiKeyName: 'k', now: Date.now(), clockSkewMs: 0 },
    );
    if (!r.ok) throw new Error(r.error.message);
    return r.play;
  });
}

/** A play of another user at the instant of play 40 (D, about 02:40 in New York), loaded after the segments. */
function latePlay(): Play {
  const r = normalizePlay(
    {
      logType: 'subscription',
      userId: 'late-user',
      country: 'NL',
      trackId: 5,
      releaseId: 7,
      formatId: 26,
      playMode: 'offline',
      dateTimePlayed: plays(40, 1)[0]!.dateTimePlayed,
      totalTimePlayed: 31,
    },
    { client: 'acme', apiKeyName: 'k', now: Date.now(), clockSkewMs: 0 },
  );
  if (!r.ok) throw new Error(r.error.message);
  return r.play;
}

// The same plays (received_at included) in every database below.
const PLAYS = plays(0, 250);
const LATE = latePlay();

/** A fresh database; the report's main connection and `sides` per-play connections (hours shared out among them). */
async function setup(t: Teardown, sides = 3) {
  const { url, db } = await freshDatabase(t);
  // The reporter's connections as its role (main, sides, and spares for fresh sessions); the plays written as the
  // loader's; an admin's.
  const pool = createPool(databaseAs(url, 'reporter'), 4 + sides, 'test-segments');
  const loader = createPool(databaseAs(url, 'loader'), 1, 'test-loader');
  const admin = createPool(databaseAs(url), 2, 'test-admin');
  t.teardown(() => Promise.all([pool.end(), loader.end(), admin.end()]));
  const main = await pool.connect();
  const plays: PoolClient[] = [];
  for (let i = 0; i < sides; i++) plays.push(await pool.connect());
  for (const c of [main, ...plays]) c.on('error', () => undefined);
  t.teardown(() => {
    for (const c of [main, ...plays]) c.release();
  });
  const dir = mkdtempSync(join(tmpdir(), 'playlog-segments-'));
  return { db, pool, admin, dir, conns: { main, plays }, writer: playsWriter(loader) };
}

const scope = { client: 'acme', day: D, timezone: TZ, thresholdSeconds: 30 };
const settings = (dir: string, compress: Compress) => ({ reportDir: dir, timezone: TZ, thresholdSeconds: 30, skewSeconds: 0, compress });

/** The whole day in one COPY (how client-usage.csv was written before segments): the oracle. */
async function oneCopy(s: Awaited<ReturnType<typeof setup>>): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      parts.push(chunk);
      cb();
    },
  });
  await pipeline(s.conns.main.query(copyOut(clientUsageCopy(scope))), sink);
  return Buffer.concat(parts);
}

t.test('hoursOf: 24 hours, or 23 and 25 on the days clocks change, covering the day exactly', async (t) => {
  for (const [day, n] of [
    ['2026-03-08', 23],
    ['2026-11-01', 25],
    ['2026-11-02', 24],
  ] as const) {
    const h = hoursOf(day, TZ);
    t.equal(h.length, n, `${day}: ${n} hours`);
    t.ok(
      h.every((x, i) => i === 0 || x.from.getTime() === h[i - 1]!.to.getTime()),
      'back to back',
    );
  }
  t.equal(hoursOf('2026-11-02', TZ)[0]!.from.toISOString(), '2026-11-02T05:00:00.000Z');
});

for (const compress of ['none', 'gzip'] as const) {
  t.test(
    `${compress}: hours rendered ahead give the same file as rendering the day at once; late plays re-render only their hour`,
    async (t) => {
      const s = await setup(t);
      await s.writer.write(PLAYS);
      const run = await renderSegments(s.pool, settings(s.dir, compress), NOW);
      const ofD = () => countRows(s.db, 'report_segments', 'day = $1', [D]);
      t.equal(await ofD(), HOURS, `every hour of ${D} rendered (${run.rendered} hours of the three days in all)`);
      t.equal((await renderSegments(s.pool, settings(s.dir, compress), NOW)).rendered, 0, 'a second run renders nothing new');

      // A late play in one hour: that hour no longer matches its segment.
      await s.writer.write([LATE]);
      const issued = await issueDay(s.conns, s.dir, scope, 'final', 'hashes', compress);
      t.equal(issued.segments!.hours, HOURS);
      t.equal(issued.segments!.used, HOURS - 1, 'every hour from its segment but the one with the late play');

      const name = compress === 'gzip' ? 'client-usage.csv.gz' : 'client-usage.csv';
      const file = readFileSync(join(issued.path, name));
      const oracle = await oneCopy(s);
      t.ok((compress === 'gzip' ? gunzipSync(file) : file).equals(oracle), 'the same bytes as the whole day in one COPY');

      t.equal(await ofD(), 0, 'the day’s segments are forgotten once it is reported');
      t.notOk(existsSync(join(s.dir, '.segments', 'acme', D)), 'and their files removed');

      // Reported from scratch (no segments), the file is the same, byte for byte: what a restore relies on.
      const again = await setup(t);
      await again.writer.write([...PLAYS, LATE]);
      const cold = await issueDay(again.conns, again.dir, scope, 'final', 'hashes', compress);
      t.equal(cold.segments!.used, 0);
      t.same(readFileSync(join(cold.path, name)), file, 'cold and warm: the same bytes');
    },
  );
}

t.test('the hours shared out among 1 or 3 connections: the same bytes as one COPY of the day, no hour files left', async (t) => {
  const files: Buffer[] = [];
  for (const sides of [1, 3]) {
    const s = await setup(t, sides);
    await s.writer.write([...PLAYS, LATE]);
    const issued = await issueDay(s.conns, s.dir, scope, 'final', 'hashes', 'none');
    t.equal(issued.segments!.used, 0, `${sides}: every hour rendered by the run`);
    t.same(readdirSync(issued.path).sort(), ['client-usage.csv', 'daily-usage.csv', 'manifest.json'], `${sides}: only the report's files`);
    const file = readFileSync(join(issued.path, 'client-usage.csv'));
    t.ok(file.equals(await oneCopy(s)), `${sides}: the same bytes as the whole day in one COPY`);
    files.push(file);
  }
  t.ok(files[0]!.equals(files[1]!), 'one connection and three: the same file');
});

t.test('writeClientUsage: one session streams every hour into the file; three share the hours out', async (t) => {
  const s = await setup(t, 3);
  await s.writer.write([...PLAYS, LATE]);
  const oracle = await oneCopy(s);
  for (const sessions of [[s.conns.plays[0]!], s.conns.plays]) {
    const file = join(s.dir, `client-usage-${sessions.length}.csv`);
    const w = await writeClientUsage(sessions, scope, file, 'none');
    t.ok(readFileSync(file).equals(oracle), `${sessions.length}: the same bytes as the whole day in one COPY`);
    t.equal(
      w.rendered.reduce((a, b) => a + b, 0),
      HOURS,
      `${sessions.length}: every hour rendered once`,
    );
    if (sessions.length === 1) t.equal(w.streamed, HOURS, 'one session: every hour streamed straight in, no hour files');
    else t.ok(w.rendered.filter((n) => n > 0).length > 1, `three sessions: more than one rendered hours (${w.rendered.join(', ')})`);
  }
  t.same(
    readdirSync(s.dir).filter((f) => f.includes('.hour-')),
    [],
    'no hour file left',
  );
});

/**
 * `db`, except that each COPY it is given is started by `onCopy`, which gets the COPY's number (from 1)
 * and a function that starts it on `db` as usual. Every other query and property is `db`'s own.
 */
function onCopies(db: PoolClient, onCopy: (n: number, start: () => Readable) => Readable): PoolClient {
  let copies = 0;
  return new Proxy(db, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (prop !== 'query') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      const query = target.query as (...a: unknown[]) => unknown;
      return (q: unknown, ...rest: unknown[]) =>
        typeof q === 'string' ? query.call(target, q, ...rest) : onCopy(++copies, () => query.call(target, q) as Readable);
    },
  });
}

/**
 * `db`, whose `n`th COPY finds its connection lost: the server ends the backend (pg_terminate_backend,
 * from `admin`) just before the COPY is sent on it.
 */
function losesConnectionAtCopy(db: PoolClient, admin: PoolClient, n: number): PoolClient {
  return onCopies(db, (i, start) => {
    if (i !== n) return start();
    const out = new PassThrough();
    void admin.query('select pg_terminate_backend($1)', [(db as unknown as { processID: number }).processID]).then(
      () => {
        const copy = start();
        copy.on('error', (err) => out.destroy(err));
        copy.pipe(out);
      },
      (err: unknown) => out.destroy(err as Error),
    );
    return out;
  });
}

/** `db`, counting the COPYs started on it in `started.n`. */
function counting(db: PoolClient, started: { n: number }): PoolClient {
  return onCopies(db, (_, start) => {
    started.n++;
    return start();
  });
}

/** `db`, whose COPYs never end: an hour far bigger than any test's (rows every 10 ms, for ever). */
function endlessCopy(db: PoolClient, streams: Readable[]): PoolClient {
  return onCopies(db, () => {
    const endless = new Readable({
      read() {
        setTimeout(() => this.push('2026-01-01,acme,row\n'), 10);
      },
    });
    streams.push(endless);
    return endless;
  });
}

t.test('writeClientUsage: a session losing its connection fails the file at once, leaving no hour file', async (t) => {
  const s = await setup(t, 3);
  await s.writer.write(PLAYS);
  const admin = await s.admin.connect();
  t.teardown(() => admin.release());
  const sessions = [s.conns.plays[0]!, losesConnectionAtCopy(s.conns.plays[1]!, admin, 3), s.conns.plays[2]!];
  const file = join(s.dir, 'client-usage.csv');
  await t.rejects(writeClientUsage(sessions, scope, file, 'none'), /terminat|Connection/i, 'the lost connection’s error');
  t.same(
    readdirSync(s.dir).filter((f) => f.includes('.hour-')),
    [],
    'no hour file left once it has failed',
  );
});

t.test('writeClientUsage: one session losing its connection while it streams an hour fails the file', async (t) => {
  const s = await setup(t, 1);
  await s.writer.write(PLAYS);
  const admin = await s.admin.connect();
  t.teardown(() => admin.release());
  const file = join(s.dir, 'client-usage.csv');
  const sessions = [losesConnectionAtCopy(s.conns.plays[0]!, admin, 4)];
  await t.rejects(writeClientUsage(sessions, scope, file, 'none'), /terminat|Connection/i);
});

t.test('writeClientUsage: a file that cannot be written fails with its error, and the sessions stop rendering', async (t) => {
  for (const n of [1, 3]) {
    const s = await setup(t, n);
    await s.writer.write(PLAYS);
    const started = { n: 0 };
    const sessions = s.conns.plays.map((db) => counting(db, started));
    await t.rejects(writeClientUsage(sessions, scope, join(s.dir, 'missing', 'client-usage.csv'), 'none'), { code: 'ENOENT' });
    // Small hours fit in the stream's buffer while the file is being opened: a few may start before the
    // open fails, none after.
    t.ok(started.n <= n + 2, `${n} session(s): ${started.n} COPYs started of ${HOURS} hours`);
  }
});

t.test('writeClientUsage: a failure stops the other sessions mid-hour, not at the end of their hour', async (t) => {
  const s = await setup(t, 2);
  await s.writer.write(PLAYS);
  const admin = await s.admin.connect();
  t.teardown(() => admin.release());
  const endless: Readable[] = [];
  const sessions = [endlessCopy(s.conns.plays[0]!, endless), losesConnectionAtCopy(s.conns.plays[1]!, admin, 1)];
  await t.rejects(writeClientUsage(sessions, scope, join(s.dir, 'client-usage.csv'), 'none'), /terminat|Connection/i);
  t.equal(endless.length, 1, 'the first session was in its endless hour');
  t.ok(endless[0]!.destroyed, 'whose COPY was abandoned when the other session failed');
});

t.test('a per-play connection lost mid-report: nothing issued, nothing left; fresh connections then issue it', async (t) => {
  const s = await setup(t, 2);
  await s.writer.write(PLAYS);
  const admin = await s.admin.connect();
  t.teardown(() => admin.release());
  const conns = { main: s.conns.main, plays: [s.conns.plays[0]!, losesConnectionAtCopy(s.conns.plays[1]!, admin, 3)] };
  await t.rejects(issueDay(conns, s.dir, scope, 'final', 'hashes', 'none'), /terminat|Connection/i);
  t.equal(await countRows(s.db, 'report_versions'), 0, 'no version recorded');
  const day = join(s.dir, 'acme', D);
  t.same(existsSync(day) ? readdirSync(day, { recursive: true }) : [], [], 'nothing left in the day’s folder');
  // As the reporter does after a failure: the per-play connections are discarded, fresh ones taken.
  const fresh = [await s.pool.connect(), await s.pool.connect()];
  t.teardown(() => fresh.forEach((c) => c.release()));
  const issued = await issueDay({ main: s.conns.main, plays: fresh }, s.dir, scope, 'final', 'hashes', 'none');
  t.match(issued, { outcome: 'issued', version: 1, status: 'final' });
  t.ok(readFileSync(join(issued.path, 'client-usage.csv')).equals(await oneCopy(s)), 'its file is the whole day in one COPY');
});

t.test('renderSegments: a segment file that cannot be written fails the run, and its connection is not reused mid-COPY', async (t) => {
  const s = await setup(t, 1);
  // One hour of D with 40 000 plays (about 12 MB of rows): more than the sockets hold, so the server is
  // still sending the hour when the file fails.
  const noon = hoursOf(D, TZ)[12]!.from.toISOString();
  await s.db.query(`select ensure_play_partition(($1::timestamptz at time zone 'UTC')::date)`, [noon]);
  await s.db.query(
    `insert into plays (play_id, played_at, client, api_key_name, log_type, user_id, country, track_id, release_id, format_id,
                        play_mode, date_time_played, total_time_played, user_agent, received_at)
     select md5('big/' || g)::uuid, $1::timestamptz + g * interval '50 ms', 'acme', 'k', 'subscription', 'user-' || g, 'GB', 1, 2, 26,
            'online', 'x', 31, repeat('a', 200), now()
       from generate_series(1, 40000) g`,
    [noon],
  );
  await s.db.query(`select refresh_play_buckets(($1::timestamptz at time zone 'UTC')::date, ($1::timestamptz at time zone 'UTC')::date)`, [
    noon,
  ]);
  const fingerprints = await hourFingerprints(s.conns.main, 'acme', hoursOf(D, TZ));
  const i = fingerprints.findIndex((f) => f.plays > 0);
  const hash = createHash('sha256')
    .update(`${formOf(scope, 'none')}|${fingerprints[i]!.fingerprint}`)
    .digest('hex');
  // Where the first segment of D is written before its rename: a directory, so opening it fails (EISDIR)
  // while the hour's COPY streams.
  const blocker = join(segmentFolder(s.dir, 'acme', D), `${String(i).padStart(2, '0')}-${hash.slice(0, 12)}.csv.tmp-${process.pid}`);
  mkdirSync(blocker, { recursive: true });
  await t.rejects(renderSegments(s.pool, settings(s.dir, 'none'), NOW), { code: 'EISDIR' }, 'fails with the file error');
  t.equal(await countRows(s.db, 'report_segments', 'day = $1', [D]), 0, 'nothing recorded');
  rmSync(blocker, { recursive: true });
  const run = await renderSegments(s.pool, settings(s.dir, 'none'), NOW);
  t.equal(await countRows(s.db, 'report_segments', 'day = $1', [D]), 1, `the next run renders the hour (${run.rendered} in all)`);
});
