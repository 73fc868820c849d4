import { existsSync, readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import t from 'tap';
import { createPool, playsWriter } from '@playlog/db';
import { addDays, normalizePlay, type Play, today } from '@playlog/schema';
import { databaseAs, countRows, freshDatabase, type Teardown } from '@playlog/testing';
import { issueDay } from '../src/report.js';
import { clientsForDay } from '../src/usage.js';

// UTC-5 all year (no daylight saving), so the plays placed by hand below fall on the same local days
// whatever the date of the run; days of 23 or 25 hours are covered in days.int and segments.int.
const TZ = 'America/Panama';
const D = addDays(today(TZ), -3);
const NEXT = addDays(D, 1);
const PREV = addDays(D, -1);

function play(client: string, raw: Record<string, unknown>): Play {
  const r = normalizePlay(
    { releaseId: 10, formatId: 26, ...raw },
    { client, apiKeyName: `${client}-key`, now: Date.now(), clockSkewMs: 0 },
  );
  if (!r.ok) throw new Error(`${r.error.message}: ${JSON.stringify(raw)}`);
  return r.play;
}

const sub = (
  client: string,
  userId: string,
  dateTimePlayed: string,
  totalTimePlayed: number | string,
  over: Record<string, unknown> = {},
) =>
  play(client, {
    logType: 'subscription',
    userId,
    country: 'GB',
    trackId: 1,
    playMode: 'online',
    dateTimePlayed,
    totalTimePlayed,
    ...over,
  });

/** Every play below was placed by hand; the comments say on which Panama day (UTC-5) it falls. */
const day = [
  sub('acme', 'u1', `${D}T00:00:00.0000000-05:00`, 30), //                 D 00:00 UTC-5: in, royalty-bearing (30 ≥ 30)
  sub('acme', 'u2', `${D}T04:59:59.9999999Z`, 45), //                      D-1 23:59:59.9999999 UTC-5: out
  sub('acme', 'u2', `${NEXT}T04:59:59.9999999Z`, '29'), //                 D 23:59:59.9999999 UTC-5: in, not royalty-bearing
  sub('acme', 'u1', `${NEXT}T05:00:00Z`, 60), //                           D+1 00:00 UTC-5: out
  sub('acme', 'u1', `${D}T05:00:00.0000000Z`, 30), //                      the first play again, another offset: duplicate
  sub('acme', 'u3', `${D}T12:00:00+02:00`, 31, { playMode: 'offline' }), // D 05:00 UTC-5: in, another play mode
  play('acme', {
    logType: 'catalogue',
    userId: 'u1',
    country: 'us',
    trackId: '2',
    releaseId: 20,
    endReason: 'naturalEnd',
    dateTimePlayed: `${D}T15:30:00.1234567-05:00`,
    totalTimePlayed: 0,
  }),
  play('acme', {
    logType: 'catalogue',
    userId: 'u4',
    country: 'US',
    trackId: 2,
    releaseId: 20,
    endReason: 'userSkipped',
    dateTimePlayed: `${D}T18:00:00Z`,
    totalTimePlayed: 31,
  }),
  sub('globex', 'g1', `${D}T12:00:00Z`, 30, { country: 'DE' }),
  sub('acme', 'smoke', `${D}T12:00:00Z`, 99), // a synthetic smoke play: never reported
];
day[day.length - 1]!.synthetic = true;

const HEADER = 'date,client,log_type,country,track_id,release_id,play_mode,streams,royalty_bearing_streams,unique_listeners,seconds_played';

async function setup(t: Teardown) {
  const { url, db } = await freshDatabase(t);
  // The reporter's two connections as its role; the plays written as the loader's.
  const pool = createPool(databaseAs(url, 'reporter'), 2, 'test-reporter');
  const loader = createPool(databaseAs(url, 'loader'), 1, 'test-loader');
  t.teardown(() => Promise.all([pool.end(), loader.end()]));
  const writer = playsWriter(loader);
  const dir = mkdtempSync(join(tmpdir(), 'playlog-reports-'));
  const client = await pool.connect();
  const side = await pool.connect();
  for (const c of [client, side]) c.on('error', () => undefined); // the database is dropped at teardown
  t.teardown(() => {
    client.release();
    side.release();
  });
  const conns = { main: client, plays: [side] };
  const scope = (c: string) => ({ client: c, day: D, timezone: TZ, thresholdSeconds: 30 });
  return { db, writer, dir, client, conns, scope };
}

t.test('figures computed by hand: dedupe, midnight in the zone, offsets, 29/30/31 s, 0 s, two clients', async (t) => {
  const s = await setup(t);
  await s.writer.write(day);
  t.same(await clientsForDay(s.client, D, TZ), ['acme', 'globex']);

  const acme = await issueDay(s.conns, s.dir, s.scope('acme'), 'final');
  t.match(acme, { outcome: 'issued', version: 1, status: 'final', plays: 5 });
  const csv = readFileSync(join(acme.path, 'daily-usage.csv'), 'utf8').trimEnd().split('\n');
  t.same(csv, [
    HEADER,
    `${D},acme,catalogue,US,2,20,,2,1,2,31`,
    `${D},acme,subscription,GB,1,10,offline,1,1,1,31`,
    `${D},acme,subscription,GB,1,10,online,2,1,2,59`,
  ]);
  const globex = await issueDay(s.conns, s.dir, s.scope('globex'), 'final');
  t.same(readFileSync(join(globex.path, 'daily-usage.csv'), 'utf8').trimEnd().split('\n'), [
    HEADER,
    `${D},globex,subscription,DE,1,10,online,1,1,1,30`,
  ]);

  const perPlay = readFileSync(join(acme.path, 'client-usage.csv'), 'utf8').trimEnd().split('\n');
  t.equal(perPlay.length, 6, 'header + one row per play');
  t.equal(
    perPlay[0],
    'report_date,client,play_id,date_time_played,received_at,log_type,user_id,country,track_id,release_id,format_id,play_mode,end_reason,total_time_played,royalty_bearing,user_agent,api_key_name',
  );
  t.match(
    perPlay[1],
    new RegExp(`^${D},acme,[0-9a-f-]{36},${D}T00:00:00.0000000-05:00,[^,]+,subscription,u1,GB,1,10,26,online,,30,true,,acme-key$`),
  );
  t.match(
    perPlay[5],
    new RegExp(`,${NEXT}T04:59:59.9999999Z,.*,29,false,,acme-key$`),
    'sorted by time: the last second of the day is last',
  );

  const manifest = JSON.parse(readFileSync(join(acme.path, 'manifest.json'), 'utf8'));
  t.match(manifest, { version: 1, status: 'final', plays: 5, rows: { 'daily-usage.csv': 3, 'client-usage.csv': 5 }, timezone: TZ });
  const sha = createHash('sha256')
    .update(readFileSync(join(acme.path, 'daily-usage.csv')))
    .digest('hex');
  t.equal(manifest.files['daily-usage.csv'].sha256, sha, 'manifest checksum matches the file');

  const stored = (await s.db.query("select * from daily_usage where client = 'acme' and version = 1 order by log_type, play_mode")).rows;
  t.same(
    stored.map((r) => [r.log_type, r.play_mode, r.streams, r.royalty_bearing_streams, r.unique_listeners, r.seconds_played]),
    [
      ['catalogue', '', 2, 1, 2, 31],
      ['subscription', 'offline', 1, 1, 1, 31],
      ['subscription', 'online', 2, 1, 2, 59],
    ],
    'the same figures are kept in Postgres',
  );
  t.notOk(existsSync(join(s.dir, 'acme', PREV)), 'nothing issued for a day not asked for');
});

t.test('versions: v1, unchanged rerun issues nothing, late plays issue v2, v1 stays', async (t) => {
  const s = await setup(t);
  await s.writer.write(day);
  const v1 = await issueDay(s.conns, s.dir, s.scope('acme'), 'final');
  t.equal(v1.version, 1);
  const again = await issueDay(s.conns, s.dir, s.scope('acme'), 'final');
  t.match(again, { outcome: 'unchanged', version: 1 }, 'unchanged data: nothing new');
  t.equal(await countRows(s.db, 'report_versions', "client = 'acme'"), 1);

  await s.writer.write([sub('acme', 'u5', `${D}T20:00:00-05:00`, 45, { userAgent: 'Late "offline" client, v2' })]);
  const v2 = await issueDay(s.conns, s.dir, s.scope('acme'), 'final');
  t.match(v2, { outcome: 'issued', version: 2, plays: 6 });
  const csv = readFileSync(join(v2.path, 'daily-usage.csv'), 'utf8');
  t.match(csv, `${D},acme,subscription,GB,1,10,online,3,2,3,104`);
  t.ok(existsSync(join(s.dir, 'acme', D, 'v1', 'daily-usage.csv')), 'v1 kept on disk');
  t.match(readFileSync(join(v2.path, 'client-usage.csv'), 'utf8'), '"Late ""offline"" client, v2"', 'RFC 4180 quoting');
  t.equal(JSON.parse(readFileSync(join(v2.path, 'manifest.json'), 'utf8')).supersedes, 'v1');

  const provisional = await issueDay(s.conns, s.dir, s.scope('globex'), 'provisional');
  t.match(provisional, { version: 1, status: 'provisional', outcome: 'issued' });
  t.match(
    await issueDay(s.conns, s.dir, s.scope('globex'), 'provisional'),
    { outcome: 'unchanged' },
    'still provisional, unchanged: nothing new',
  );
  t.match(
    await issueDay(s.conns, s.dir, s.scope('globex'), 'final'),
    { outcome: 'issued', version: 2, status: 'final' },
    'complete now: a final version',
  );
});

t.test('client-usage.csv: cells a spreadsheet would run are neutralised, and the rule can be undone', async (t) => {
  const s = await setup(t);
  const sent = [
    ['=cmd|calc', '=HYPERLINK("http://x")'],
    ['+1', '@SUM(A1)'],
    ['-1', 'Acme/1 (=ok inside)'],
    ["'quoted", 'tab\u2003lookalike'],
    ['a=b', '-'],
  ];
  await s.writer.write(sent.map(([user, agent], i) => sub('acme', user!, `${D}T1${i}:00:00Z`, 40, { userAgent: agent })));
  const r = await issueDay(s.conns, s.dir, s.scope('acme'), 'final');
  const rows = readFileSync(join(r.path, 'client-usage.csv'), 'utf8').trimEnd().split('\n').slice(1);
  const cells = rows.map((line) => {
    const m = /,subscription,(.*),GB,1,10,26,online,,40,true,(.*),acme-key$/.exec(line);
    if (!m) throw new Error(`unexpected row ${line}`);
    return [m[1], m[2]];
  });
  t.same(cells, [
    ["'=cmd|calc", `"'=HYPERLINK(""http://x"")"`],
    ["'+1", "'@SUM(A1)"],
    ["'-1", 'Acme/1 (=ok inside)'],
    ["''quoted", 'tab\u2003lookalike'],
    ['a=b', "'-"],
  ]);
  const undo = (cell: string) => (cell.startsWith("'") ? cell.slice(1) : cell);
  t.same(
    cells.map(([u]) => undo(u!)),
    sent.map(([u]) => u),
    'dropping one leading apostrophe gives back every value sent',
  );
});
