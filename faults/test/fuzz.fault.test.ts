import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import t from 'tap';
import { freshDatabase, freshKeyFeed, freshTopic, stack, startApp } from '@playlog/testing';

/**
 * Bad input at scale against the real ingest process: malformed JSON, wrong types, huge numbers,
 * unicode, __proto__ / constructor keys, deep nesting, huge and compressed bodies, wrong content types
 * and encodings, bad auth. Goal: ≥ 100 000 requests, no 5xx, no crash, bounded memory.
 */
// FUZZ_REQUESTS=N for a shorter or longer run.
const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 100_000);
const CONCURRENCY = 16;

interface Req {
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
}

function send(port: number, r: Req): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: r.path,
        headers: { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) },
        agent: keepAlive,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(-1));
    req.end(r.body);
  });
}
const keepAlive = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

t.test(`${TOTAL} bad requests: no 5xx, no crash, RSS bounded`, async (t) => {
  const { db } = await freshDatabase(t);
  const topic = await freshTopic(t, 1);
  const feed = await freshKeyFeed(t, db);
  const key = await feed.create('fuzz');
  const { proc: ingest, port } = await startApp(t, 'ingest', {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_KEYS_TOPIC: feed.topic,
    LOG_LEVEL: 'error',
    CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0',
    // What is judged is the answer to bad input, not this machine's load: no shedding (503) because
    // the event loop lagged while the suite's other processes had the cores (shedding is exercised by
    // broker-outage.e2e and bench/ingest's overload run).
    MAX_EVENT_LOOP_DELAY_MS: '60000',
  });
  const pid = ingest.child.pid!;

  const auth = { authorization: `Bearer ${key}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const big = gzipSync(Buffer.from(`{"plays":[${'0,'.repeat(6_000_000)}0]}`));
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const paths = [
    '/v1/play-logs',
    '/1.2/user/subscription/log?country=GB&userId=u',
    '/1.2/catalogue/log?country=gb&userId=%00',
    '/1.2/catalogue/log',
  ];
  // Generators of bad requests; a few well-formed-but-wrong ones too.
  const anyValue = fc.anything({ maxDepth: 4, withBigInt: false, withTypedArray: false, withBoxedValues: false });
  const shapes: fc.Arbitrary<Req>[] = [
    fc.tuple(fc.constantFrom(...paths), fc.string({ maxLength: 200 })).map(([path, body]) => ({ path, headers: json, body })), // malformed JSON
    fc
      .tuple(fc.constantFrom(...paths), anyValue)
      .map(([path, v]) => ({ path, headers: json, body: JSON.stringify({ plays: [v], playLogItem: [v] }) ?? 'null' })),
    fc
      .tuple(
        fc.constantFrom(...paths),
        fc.dictionary(
          fc.constantFrom(
            'trackId',
            'releaseId',
            'formatId',
            'totalTimePlayed',
            'dateTimePlayed',
            'country',
            'userId',
            'logType',
            'playMode',
            'userAgent',
          ),
          fc.oneof(
            fc.double(),
            fc.bigInt().map(String),
            fc.string({ unit: 'grapheme' }),
            fc.constant('9'.repeat(400)),
            fc.constant(-0),
            fc.constant(1e308),
          ),
        ),
      )
      .map(([path, item]) => ({
        path,
        headers: json,
        body: JSON.stringify({ plays: [item, item], playLogItem: [item] }),
      })),
    fc
      .constantFrom(...paths)
      .map((path) => ({ path, headers: json, body: '{"plays":[{"__proto__":{"admin":true}}],"constructor":{"prototype":{"x":1}}}' })),
    fc.constantFrom(...paths).map((path) => ({ path, headers: json, body: `{"plays":${deep(5_000)}}` })),
    fc
      .constantFrom(
        'text/plain',
        'application/xml',
        'multipart/form-data; boundary=x',
        'application/x-ndjson',
        'application/json; charset=utf-16',
        '',
      )
      .map((ct) => ({ path: paths[0]!, headers: { ...auth, 'content-type': ct }, body: '{"plays":[1]}\n{x' })),
    fc
      .constantFrom('br', 'deflate', 'gzip', 'gzip, gzip', 'x-unknown')
      .map((enc) => ({ path: paths[0]!, headers: { ...json, 'content-encoding': enc }, body: 'definitely not compressed' })),
    fc.constantFrom(...paths).map((path) => ({
      path,
      headers: { ...json, 'content-encoding': 'gzip' },
      body: big, // 12 MB inflated
    })),
    fc
      .constantFrom('', 'Bearer', 'Bearer ' + 'x'.repeat(5_000), 'Basic dXNlcjpwYXNz', `Bearer ${key}x`)
      .map((a) => ({ path: paths[0]!, headers: { 'content-type': 'application/json', authorization: a }, body: '{"plays":[]}' })),
  ];
  // Heavy bodies (12 MB inflated; a 64 MB gzip bomb every 2000th request) are rarer than cheap malformed ones.
  const gen = fc.oneof(...shapes.map((arbitrary, i) => ({ arbitrary, weight: i === 7 ? 1 : 20 })));
  const bomb = {
    path: paths[0]!,
    headers: { ...json, 'content-encoding': 'gzip' },
    body: gzipSync(Buffer.from(`{"plays":[${' '.repeat(64 * 1024 * 1024)}]}`)),
  };

  const status = new Map<number, number>();
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      peakRss = Math.max(peakRss, kb * 1024);
    } catch {
      /* process gone: caught below */
    }
  }, 200);
  const samples = fc.sample(gen, { numRuns: 4_000, seed: 42 });
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < TOTAL) {
        const i = next++;
        const r = i % 2_000 === 0 ? bomb : samples[i % samples.length]!;
        const code = await send(port, r);
        status.set(code, (status.get(code) ?? 0) + 1);
      }
    }),
  );
  clearInterval(rssTimer);
  const secs = (Date.now() - started) / 1000;
  const table = [...status]
    .sort((a, b) => a[0] - b[0])
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  t.comment(`fuzz: ${TOTAL} requests in ${secs.toFixed(1)} s; status ${table}; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  const fiveXx = [...status].filter(([k]) => k >= 500).reduce((s, [, v]) => s + v, 0);
  t.equal(fiveXx, 0, 'no 5xx');
  t.equal(status.get(-1) ?? 0, 0, 'no connection failures');
  t.equal(ingest.child.exitCode, null, 'ingest still running');
  t.ok(peakRss < 512 * 2 ** 20, `RSS stayed under 512 MiB (peak ${(peakRss / 2 ** 20).toFixed(0)} MiB)`);
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'still healthy');
});
