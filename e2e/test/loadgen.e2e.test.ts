import t from 'tap';
import { freePort, freshDatabase, freshKeyFeed, freshTopic, run, stack, startApp } from '@playlog/testing';

/** npm run loadgen against the real ingest: it fails loudly when the server says no, and keeps to its deadline. */
const loadgen = (args: string[]) => run('node', ['tools/loadgen/dist/main.js', ...args]);

t.test('loadgen validates its flags, exits non-zero with the server codes on failure, stops at its deadline', async (t) => {
  const { db } = await freshDatabase(t);
  const feed = await freshKeyFeed(t, db);
  const key = await feed.create('loadgen');
  const { base } = await startApp(t, 'ingest', {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: await freshTopic(t, 1),
    KAFKA_KEYS_TOPIC: feed.topic,
    BULK_MAX_PLAYS: '50',
    LOG_LEVEL: 'warn',
  });
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

  for (const [args, why] of [
    [['--key', key, '--rate', 'abc'], '--rate must be a non-negative number'],
    [['--key', key, '--route', 'bogus'], '--route must be bulk or v12'],
    [['--key', key, '--batch', '0'], '--batch must be a whole number from 1'],
    [['--key', key, '--day', '2026-13-01'], '--day must be a date'],
    [['--key', key, '--plays', '10', '--duration', '5'], 'give --duration or --plays, not both'],
    [['--rate', '5'], '--key is required'],
    [['--key', key, '--bogus'], "Unknown option '--bogus'"],
    [['--key', key, '--give-up', '0'], '--give-up must be a positive number'],
  ] as const) {
    const r = await loadgen([...args]);
    t.equal(r.code, 2, `${args.join(' ')}: usage error`);
    t.match(r.stderr, why);
  }

  const ok = await loadgen(['--url', base, '--key', key, '--plays', '200', '--batch', '50', '--rate', '0', '--day', yesterday]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(JSON.parse(ok.stdout), { accepted: 200, rejected: 0, failed: 0 });

  const unauthorized = await loadgen(['--url', base, '--key', 'plk_wrong', '--plays', '20', '--batch', '10', '--rate', '0']);
  t.equal(unauthorized.code, 1, '401: exit 1');
  t.match(unauthorized.stderr, 'PLAYLOG_UNAUTHORIZED ×2');

  const tooBig = await loadgen(['--url', base, '--key', key, '--plays', '100', '--batch', '100', '--rate', '0']);
  t.equal(tooBig.code, 1, '413: exit 1');
  t.match(tooBig.stderr, 'PLAYLOG_TOO_MANY_PLAYS ×1');

  const stale = await loadgen(['--url', base, '--key', key, '--plays', '20', '--batch', '10', '--rate', '0', '--day', '2020-01-01']);
  t.equal(stale.code, 1, 'every play rejected: exit 1');
  t.match(stale.stderr, 'PLAYLOG_DATE_OUT_OF_WINDOW ×20');
  t.match(JSON.parse(stale.stdout), { accepted: 0, rejected: 20 });

  // Nothing listening: it gives up after --give-up seconds and says why, instead of retrying for minutes.
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const gaveUpFrom = Date.now();
  const gone = await loadgen(['--url', nowhere, '--key', key, '--plays', '1000', '--batch', '10', '--give-up', '1']);
  t.equal(gone.code, 1, 'nothing answering: exit 1');
  t.match(gone.stderr, `no answer from ${nowhere} for 1 s: connect ECONNREFUSED`);
  t.ok(Date.now() - gaveUpFrom < 1_000 + 8_000, 'within --give-up, not after its retries (Node start and exit included)');

  const started = Date.now();
  const timed = await loadgen([
    '--url',
    base,
    '--key',
    key,
    '--duration',
    '2',
    '--batch',
    '10',
    '--rate',
    '200',
    '--concurrency',
    '2',
    '--day',
    yesterday,
  ]);
  const took = Date.now() - started;
  t.equal(timed.code, 0, timed.stderr);
  // Bounds a busy machine cannot break but an overrun would: before the fix it ran 20-45 % past --duration.
  t.ok(took < 2_000 + 8_000, `stopped near its deadline: ${took} ms for --duration 2 (Node's start and exit included)`);
  const summary = JSON.parse(timed.stdout) as { seconds: number; accepted: number };
  t.ok(summary.seconds >= 2 && summary.seconds <= 2.5, `ran ${summary.seconds} s by its own clock`);
  t.ok(summary.accepted >= 10 && summary.accepted <= 2.5 * 200, `${summary.accepted} plays accepted at 200/s`);
});
