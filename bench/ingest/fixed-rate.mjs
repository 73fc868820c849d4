// CPU per request of ingest variants at a fixed request rate (below saturation), so a design change shows
// as CPU rather than as throughput on a saturated machine. Variants alternate round by round.
// Usage (a private stack, as the other benches):
//   AB='{"now":{},"linger0":{"KAFKA_LINGER_MS":"0"}}' ROUTE=v12 bash bench/lib/run-bench.sh ingest/fixed-rate
// Each variant is a fresh ingest (INGEST_WORKERS=1) with its environment variables; `_MAIN` runs another
// build (e.g. a copy of apps/ingest/dist made at an older commit, kept inside apps/ingest so that its
// imports resolve). ROUTE v12 (one play a request, RATE 10 000/s) or bulk (100 plays, RATE 1 500/s);
// ROUNDS (5) of SECS (5) seconds each, CONNECTIONS (64). RATE=0: closed loop, as many requests as the
// connections get answered (throughput and latency rather than CPU at a rate).
import autocannon from 'autocannon';
import { cpuSeconds, freshDatabase, freshTopic, median, runMain, yesterdayUtc } from '../lib/common.mjs';
import { createKey, ingestBodies, startIngest, V12_PATH } from './targets.mjs';

const variants = JSON.parse(process.env.AB ?? '{"now":{}}');
const route = process.env.ROUTE ?? 'v12';
const rate = Number(process.env.RATE ?? (route === 'v12' ? 10_000 : 1_500));
const rounds = Number(process.env.ROUNDS ?? 5);
const secs = Number(process.env.SECS ?? 5);
const connections = Number(process.env.CONNECTIONS ?? 64);

async function main() {
  const db = await freshDatabase('bench_fixed_rate');
  const key = createKey(db.url);
  const { bulk, v12 } = ingestBodies({ seed: 4242, day: yesterdayUtc(), pool: 50_000, batch: 100 });
  const body = route === 'bulk' ? bulk : v12;
  const path = route === 'v12' ? V12_PATH : '/v1/play-logs';
  const targets = {};
  for (const [name, { _MAIN: main = 'apps/ingest/dist/main.js', ...env }] of Object.entries(variants)) {
    const { proc, base } = await startIngest(
      {
        DATABASE_URL: db.url,
        KAFKA_TOPIC: await freshTopic('plays'),
        CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0',
        INGEST_WORKERS: '1',
        ...env,
      },
      { main },
    );
    targets[name] = { proc, url: `${base}${path}`, res: [] };
  }
  const run = async (x, seconds) => {
    let i = 0;
    const c0 = cpuSeconds(x.proc.pid);
    const r = await autocannon({
      url: x.url,
      method: 'POST',
      connections,
      ...(rate > 0 ? { overallRate: rate } : {}),
      duration: seconds,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      requests: [{ setupRequest: (req) => ((req.body = body[i++ % body.length]), req) }],
    });
    const cpu = cpuSeconds(x.proc.pid) - c0;
    return { us: (cpu / r['2xx']) * 1e6, ok: r['2xx'] / r.duration, bad: r.non2xx + r.errors, p50: r.latency.p50 };
  };
  for (const x of Object.values(targets)) await run(x, 2); // warm-up
  const names = Object.keys(targets);
  for (let k = 0; k < rounds; k++) {
    for (const n of k % 2 ? [...names].reverse() : names) targets[n].res.push(await run(targets[n], secs));
  }
  const base = targets[names[0]].res;
  for (const n of names) {
    const res = targets[n].res;
    console.log(
      `${n}: ${median(res.map((r) => r.us)).toFixed(2)} µs CPU a request (per round ${res.map((r) => r.us.toFixed(1)).join(' ')}); ` +
        `median of per-round ratios to ${names[0]} ${median(res.map((r, k) => r.us / base[k].us)).toFixed(3)}; ` +
        `${median(res.map((r) => r.ok)).toFixed(0)} req/s (median of per-round ratios ${median(res.map((r, k) => r.ok / base[k].ok)).toFixed(3)}), p50 ${median(res.map((r) => r.p50))} ms, non-2xx+errors ${res.reduce((a, r) => a + r.bad, 0)}`,
    );
  }
  return 0;
}

runMain(main, 1800);
