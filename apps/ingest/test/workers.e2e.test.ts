import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import t from 'tap';
import { decodePlays } from '@playlog/schema';
import { eventually, freshDatabase, freshKeyFeed, freshTopic, readToEnd, stack, startApp } from '@playlog/testing';
import { bulkPlay } from './helpers.js';

/** The pids whose parent is `pid` (an ingest primary's workers). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort();
}

/** POST on a connection of its own, so that the primary hands each request to the next worker. */
function postOnce(base: string, key: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/v1/play-logs', base),
      { method: 'POST', agent: false, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/**
 * POSTs as a client does: a 503 (a worker shedding load for a moment on a busy test machine, with
 * Retry-After) is sent again, up to 5 times; anything else is the answer.
 */
async function post(base: string, key: string, body: unknown): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const status = await postOnce(base, key, body);
    if (status !== 503 || attempt === 5) return status;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const plays = (batch: string, n: number) => Array.from({ length: n }, (_, i) => bulkPlay({ userId: `${batch}-${i}` }));

t.test('INGEST_WORKERS=2: one port, two processes, metrics summed, a dead worker replaced, SIGTERM drains both', async (t) => {
  const { db } = await freshDatabase(t);
  const feed = await freshKeyFeed(t, db);
  const key = await feed.create('workers');
  const topic = await freshTopic(t, 3);
  const ingest = await startApp(t, 'ingest', {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_KEYS_TOPIC: feed.topic,
    INGEST_WORKERS: '2',
    LOG_SUMMARY_SECONDS: '1',
  });
  const primary = ingest.proc.child.pid!;
  const workers = await eventually(() => (childrenOf(primary).length === 2 ? childrenOf(primary) : undefined), 10_000, 'two workers');
  await eventually(() => /"workers":2,"msg":"ingest listening"/.test(ingest.proc.output()), 15_000, 'both workers listening');

  // 20 requests of 5 plays, each on its own connection: both workers take some.
  const statuses = await Promise.all(Array.from({ length: 20 }, (_, r) => post(ingest.base, key, { plays: plays(`a${r}`, 5) })));
  t.same([...new Set(statuses)], [202], 'every request accepted');
  const served = await eventually(
    () => {
      const ids = new Set<number>();
      for (const line of ingest.proc.output().split('\n')) {
        if (!line.includes('"msg":"summary"')) continue;
        const l = JSON.parse(line) as { worker?: number; plays: { accepted: number } };
        if (l.plays.accepted > 0 && l.worker !== undefined) ids.add(l.worker);
      }
      return ids.size === 2 ? ids : undefined;
    },
    10_000,
    "both workers' summary lines show accepted plays",
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${ingest.proc.output()}`);
  });
  t.same([...served].sort(), [1, 2], 'both workers served requests');

  const scrape = await (await fetch(`${ingest.metrics}/metrics`)).text();
  t.match(scrape, /^playlog_ingest_plays_total\{route="bulk",outcome="accepted"\} 100$/m, 'METRICS_PORT sums both workers');
  t.match(scrape, /^playlog_kafka_broker_reachable 1$/m, 'reachable: the least connected worker (min), not a sum');
  const onTopic = await readToEnd(topic);
  t.equal(new Set(onTopic.flatMap((m) => decodePlays(m.value).plays.map((p) => p.playId))).size, 100, 'all 100 plays on the topic');

  // A worker that dies is replaced; the pod keeps answering meanwhile.
  process.kill(workers[0]!, 'SIGKILL');
  await eventually(
    () => {
      const now = childrenOf(primary);
      return now.length === 2 && !now.includes(workers[0]!);
    },
    15_000,
    'a new worker',
  );
  t.match(ingest.proc.output(), /"msg":"worker exited; starting another"/, 'the primary says so');
  await eventually(() => /"msg":"worker replaced"/.test(ingest.proc.output()), 30_000, 'the new worker listening');
  const after = await Promise.all(Array.from({ length: 6 }, (_, r) => post(ingest.base, key, { plays: plays(`b${r}`, 5) })));
  t.same([...new Set(after)], [202], 'requests accepted after the replacement');

  // SIGTERM: requests in flight finish, then every worker and the primary exit 0.
  const last = Array.from({ length: 10 }, (_, r) => postOnce(ingest.base, key, { plays: plays(`c${r}`, 5) }).catch(() => 0));
  await new Promise((r) => setTimeout(r, 20));
  const before = childrenOf(primary);
  const code = await ingest.proc.stop('SIGTERM');
  t.equal(code, 0, 'exit 0');
  t.same(
    before.filter((pid) => existsSync(`/proc/${pid}`)),
    [],
    'no worker left running',
  );
  const lastStatuses = await Promise.all(last);
  t.ok(
    lastStatuses.every((s) => s === 202 || s === 503 || s === 0),
    `each answered 202 or 503, or refused before being taken: ${lastStatuses}`,
  );
  const all = await readToEnd(topic);
  const ids = new Set(all.flatMap((m) => decodePlays(m.value).plays.map((p) => p.userId)));
  for (let r = 0; r < 10; r++) {
    if (lastStatuses[r] === 202) t.ok(ids.has(`c${r}-4`), `request c${r} was acknowledged, so its plays are on the topic`);
  }
  t.equal((ingest.proc.output().match(/"worker":\d,.*"msg":"stopped"/g) ?? []).length, before.length, 'each worker logged stopped');
});
