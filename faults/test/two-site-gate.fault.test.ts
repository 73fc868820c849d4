import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  eventually,
  freePort,
  freshCoreKeyFeed,
  freshDatabase,
  freshEdgeTopic,
  LOADER_ENTRY,
  run,
  startProcess,
  testName,
  twoSite,
} from '@playlog/testing';
import { edgeIngestEnv } from './oracle.js';

/**
 * The completeness gate across the link: plays acknowledged at the edge while the link is down keep
 * every run from issuing a final version of their day; once the link is up, the next run issues the
 * exact report, checked against figures computed here from the plays sent.
 */
const CLIENT = 'gatecheck';
const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

t.test('link down: no final version for plays still at the edge; link up: the exact report', async (t) => {
  const { url, db } = await freshDatabase(t, twoSite.coreDatabaseUrl);
  const topics = await freshEdgeTopic(t);
  const feed = await freshCoreKeyFeed(t, db);
  const key = await feed.create(CLIENT);
  t.teardown(() => twoSite.stack('link', 'up'));
  const reportDir = mkdtempSync(join(tmpdir(), 'playlog-two-site-'));
  const group = testName('group');
  const coreEnv = {
    KAFKA_BROKERS: twoSite.coreBrokers,
    KAFKA_TOPIC: topics.core,
    KAFKA_KEYS_TOPIC: feed.topic,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: url,
    EDGE_KAFKA_BROKERS: twoSite.edgeBrokers,
    EDGE_KAFKA_TOPIC: topics.edge,
    REPORT_DIR: reportDir,
    CLOCK_SKEW_SECONDS: '0',
    LOG_LEVEL: 'warn',
  };
  const ingestEnv = await edgeIngestEnv(twoSite.edgeBrokers, topics.edge, feed.edge);
  startProcess(t, 'node', ['apps/ingest/dist/main.js'], ingestEnv);
  startProcess(t, 'node', [LOADER_ENTRY], {
    ...coreEnv,
    KAFKA_DLQ_TOPIC: `play-logs-dlq-t-${topics.core.slice('edge.play-logs-t-'.length)}`,
    LOADER_PORT: String(await freePort()),
    LOADER_BATCH_WAIT_MS: '200',
  });
  const base = `http://127.0.0.1:${ingestEnv.PORT}`;
  await eventually(async () => (await fetch(`${base}/readyz`)).ok, 60_000, 'ingest ready at the edge');
  // The key was made at the core: it reaches the edge through MirrorMaker, maybe after ingest is ready.
  await eventually(
    async () => (await fetch(`${base}/v1/key`, { headers: { authorization: `Bearer ${key}` } })).ok,
    120_000,
    'the key mirrored to the edge',
  );

  // Plays of DAY, each track played by users with known times: the figures are computed here.
  const sent: { trackId: number; userId: string; seconds: number }[] = [];
  const send = async (from: number, n: number) => {
    const plays = Array.from({ length: n }, (_, i) => {
      const k = from + i;
      const p = { trackId: 100 + (k % 7), userId: `u${k % 13}`, seconds: (k * 7) % 90 };
      sent.push(p);
      return {
        logType: 'subscription',
        userId: p.userId,
        country: 'GB',
        trackId: p.trackId,
        releaseId: 1,
        formatId: 1,
        playMode: 'online',
        playId: `gate-${k}`,
        dateTimePlayed: `${DAY}T${String(k % 24).padStart(2, '0')}:${String(k % 60).padStart(2, '0')}:00Z`,
        totalTimePlayed: p.seconds,
      };
    });
    const res = await fetch(`${base}/v1/play-logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ plays }),
    });
    t.equal(res.status, 202, `${n} plays acknowledged at the edge`);
  };
  const reporter = (...args: string[]) => run('node', ['apps/reporter/dist/main.js', 'run', '--date', DAY, ...args], coreEnv);

  await send(0, 400);
  const v1 = await reporter('--wait', '120');
  t.equal(v1.code, 0, v1.stderr);
  t.match(v1.stdout, `issued ${CLIENT} ${DAY} v1 (final, 400 plays)`);

  t.equal((await twoSite.stack('link', 'down')).code, 0, 'the link goes down');
  await send(400, 250); // late plays of the same day, acknowledged while the link is down
  const blocked = await reporter('--wait', '15');
  t.equal(blocked.code, 3, 'no final version while acknowledged plays are on the wrong side of the link');
  t.match(
    blocked.stderr,
    /gate: waiting for partitions? [\d, ]+ of play-logs-t-\S+ at 127\.0\.0\.1:29091.*to reach Postgres; loader group \S+ is 0 message\(s\) behind on edge\.play-logs-t-\S+ \(so what is missing has not crossed from the edge: is the link, MirrorMaker, up\?\)/,
  );
  t.notOk(existsSync(join(reportDir, CLIENT, DAY, 'v2')), 'no v2 issued');

  t.equal((await twoSite.stack('link', 'up')).code, 0, 'the link comes back');
  const v2 = await reporter('--wait', '120');
  t.equal(v2.code, 0, v2.stderr);
  t.match(v2.stdout, `issued ${CLIENT} ${DAY} v2 (final, 650 plays)`, 'the next run issues v2 with every play');

  // The exact figures, per track: streams, royalty-bearing (>= 30 s), unique listeners, seconds.
  const expected = new Map<number, { streams: number; royalty: number; users: Set<string>; seconds: number }>();
  for (const p of sent) {
    const e = expected.get(p.trackId) ?? { streams: 0, royalty: 0, users: new Set(), seconds: 0 };
    e.streams++;
    if (p.seconds >= 30) e.royalty++;
    e.users.add(p.userId);
    e.seconds += p.seconds;
    expected.set(p.trackId, e);
  }
  const want = [...expected]
    .sort((a, b) => a[0] - b[0])
    .map(([track, e]) => `${DAY},${CLIENT},subscription,GB,${track},1,online,${e.streams},${e.royalty},${e.users.size},${e.seconds}`);
  const csv = readFileSync(join(reportDir, CLIENT, DAY, 'v2', 'daily-usage.csv'), 'utf8')
    .trimEnd()
    .split('\n')
    .slice(1);
  t.same(csv, want, 'daily-usage.csv v2 equals the figures computed from the plays sent');
});
