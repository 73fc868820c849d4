import { connect, createServer, type Socket } from 'node:net';
import t from 'tap';
import {
  eventually,
  freePort,
  freshDatabase,
  freshKeyFeed,
  freshTopic,
  stack,
  startApp,
  startProcess,
  type Teardown,
} from '@playlog/testing';
import { bulkPlay, v12Item } from './helpers.js';

/** The built ingest as a process, as operators run it: what it logs, how it starts, what it holds open. */
async function keyed(t: Teardown) {
  const { db } = await freshDatabase(t);
  const feed = await freshKeyFeed(t, db);
  const key = await feed.create('edges');
  return { feed, key, env: { KAFKA_BROKERS: stack.brokers, KAFKA_TOPIC: await freshTopic(t, 1), KAFKA_KEYS_TOPIC: feed.topic } };
}

/** A TCP port that forwards to the broker once `open()` is called; until then nothing listens on it. */
function brokerBehind(port: number) {
  const [host, target] = stack.brokers.split(',')[0]!.split(':') as [string, string];
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(Number(target), host);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  return {
    open: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

t.test('started while Kafka is unreachable: not ready, saying why by name, without a crash; ready once it is reachable', async (t) => {
  const k = await keyed(t);
  const kafkaPort = await freePort();
  const port = await freePort();
  const proc = startProcess(t, 'node', ['apps/ingest/dist/main.js'], {
    ...k.env,
    KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
    PORT: String(port),
    METRICS_PORT: String(await freePort()),
  });
  const base = `http://127.0.0.1:${port}`;
  const ready = await eventually(async () => {
    const r = await fetch(`${base}/readyz`);
    return r.status === 503 ? ((await r.json()) as { reasons: string[] }) : undefined;
  }, 20_000);
  t.match(ready.reasons.join(), `Kafka unreachable at KAFKA_BROKERS=127.0.0.1:${kafkaPort}`, 'names the variable and its value');
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'alive: a broker outage must not restart the pod');
  const refused = await fetch(`${base}/v1/play-logs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ plays: [bulkPlay()] }),
  });
  t.equal(refused.status, 503);
  t.equal(((await refused.json()) as { code: string }).code, 'PLAYLOG_KAFKA_UNAVAILABLE');
  await eventually(
    () => /"msg":"not ready"/.test(proc.output()) && proc.output().includes(`KAFKA_BROKERS=127.0.0.1:${kafkaPort}`),
    15_000,
    'a log line',
  );
  await new Promise((r) => setTimeout(r, 17_000)); // past the 16 s after which ingest used to give up
  t.equal(proc.child.exitCode, null, 'still running after 17 s');
  t.notMatch(proc.output(), /did not start in time|FST_ERR_PLUGIN_TIMEOUT|at .*\.js:\d+/, 'no plugin timeout, no stack trace');

  const broker = brokerBehind(kafkaPort);
  await broker.open();
  t.teardown(() => broker.close());
  await eventually(async () => (await fetch(`${base}/readyz`)).ok, 60_000, `ready once Kafka is reachable\n${proc.output()}`);
  const accepted = await fetch(`${base}/v1/play-logs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ plays: [bulkPlay()] }),
  });
  t.equal(accepted.status, 202);
  await eventually(() => /"msg":"ready"/.test(proc.output()), 15_000, 'says it is ready');
  t.ok(
    proc
      .output()
      .split('\n')
      .filter((l) => l.includes('kafka follower error')).length < 10,
    'a broker outage is not a flood of log lines',
  );
});

t.test('slow headers are cut at HEADERS_TIMEOUT_MS; past MAX_CONNECTIONS new connections are closed at once', async (t) => {
  const k = await keyed(t);
  // MAX_CONNECTIONS bounds each worker process; one worker makes the 21st connection the one over it.
  const { port } = await startApp(t, 'ingest', {
    ...k.env,
    HEADERS_TIMEOUT_MS: '1000',
    MAX_CONNECTIONS: '20',
    LOG_LEVEL: 'warn',
    INGEST_WORKERS: '1',
  });
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    });
  const closedWithin = (s: Socket) =>
    new Promise<{ ms: number; data: string }>((resolve) => {
      const t0 = Date.now();
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('error', () => undefined);
      s.on('close', () => resolve({ ms: Date.now() - t0, data }));
    });

  const slow = await open();
  const slowClosed = closedWithin(slow);
  slow.write('POST /v1/play-logs HTTP/1.1\r\nHost: x\r\n'); // and never the rest
  const cut = await slowClosed;
  t.ok(cut.ms < 8_000, `closed after ${cut.ms} ms (HEADERS_TIMEOUT_MS plus the 1 s check interval, on a busy machine)`);
  t.match(cut.data, /^HTTP\/1\.1 408/, 'with 408 Request Timeout');

  const held: Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 20; i++) held.push(await open());
  const extra = await open().catch(() => undefined);
  const over = extra ? await closedWithin(extra) : { ms: 0, data: '' };
  t.ok(over.ms < 3_000 && over.data === '', `connection 21 closed without an answer (${over.ms} ms)`);
  held.pop()!.destroy();
  await eventually(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok, 5_000, 'room again');
  t.pass('a connection closed makes room for another');
});

t.test('keys never reach a log: a spelled-out query key, trace-level client errors; a summary line; no deprecation warning', async (t) => {
  const k = await keyed(t);
  const { proc, base, metrics, port } = await startApp(t, 'ingest', {
    ...k.env,
    LOG_LEVEL: 'trace',
    LOG_REQUESTS: 'true',
    LOG_SUMMARY_SECONDS: '1',
  });
  // Fastify decodes query names: oauth_consumer_%6Bey is oauth_consumer_key, and authenticates.
  const v12 = await fetch(`${base}/1.2/user/subscription/log?country=GB&userId=u&oauth_consumer_%6Bey=${k.key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ playLogItem: [v12Item()] }),
  });
  t.equal(v12.status, 200);
  // A request Node cannot parse, carrying the key in its headers: logged at trace as a client error.
  await new Promise<void>((resolve) => {
    const s = connect(port, '127.0.0.1', () =>
      s.write(`POST /v1/play-logs HTTP/1.1\r\nAuthorization: Bearer ${k.key}\r\nBad Header\r\n\r\n`),
    );
    s.on('data', () => s.destroy());
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
  await eventually(() => /"accepted":1,.*"msg":"summary"/.test(proc.output()), 10_000, 'a summary line counting the play');
  await eventually(() => /client error|Parse Error/i.test(proc.output()), 15_000, 'the client error was logged');
  const out = proc.output();
  t.match(out, /"path":"\/1\.2\/user\/subscription\/log"/, 'requests are logged by path');
  t.notMatch(out, k.key.slice(4), 'the key is nowhere in the output');
  t.notMatch(out, /rawPacket/, 'no raw packet');
  t.notMatch(out, /DeprecationWarning|FSTDEP/, 'no deprecation warning at start');
  t.equal((await fetch(`${base}/metrics`)).status, 404, 'no /metrics on the API port');
  const scrape = await fetch(`${metrics}/metrics`);
  t.equal(scrape.status, 200, '/metrics on METRICS_PORT');
  t.match(await scrape.text(), 'playlog_ingest_plays_total');
});
