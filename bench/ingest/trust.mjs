// bench/ingest/trust.mjs (issue 27): what TLS and authentication to Kafka cost ingest. The same build
// twice, side by side: (a) bulk route, 2 workers, mutual TLS as the ingest principal (as it runs), and
// (ap) the same over the private stack's plaintext listener without authentication. Both warmed up
// (the broker's TLS path included), then rounds in alternating order, twice: at a fixed offered rate
// below saturation (the same plays/s for both: ingest's own CPU per play, and the broker's), and closed
// loop (as many as they take: on this 2-core machine the broker's TLS work competes with ingest for the
// cores). The figures are plays per CPU-second of ingest (the process and its workers, /proc) and of
// the broker, per round and as medians.
// Usage: bash bench/ingest/trust.sh   (the private stack, which has the plaintext listener)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createKey, ingestBodies, startIngest } from './targets.mjs';
import {
  brokerPid,
  cpuSeconds,
  fmt,
  freshDatabase,
  freshTopic,
  loadAvgNow,
  machineNotes,
  median,
  outDir,
  runMain,
  stack,
  table,
  yesterdayUtc,
} from '../lib/common.mjs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const cfg = {
  duration: num('BENCH_DURATION', 10),
  warmup: num('BENCH_WARMUP', 10),
  rounds: num('BENCH_ROUNDS', 7),
  rate: num('BENCH_RATE', 100_000), // plays/s offered in the fixed-rate rounds
  batch: num('BENCH_BATCH', 100),
  connections: num('BENCH_BULK_CONNECTIONS', 32),
  pool: num('BENCH_POOL_PLAYS', 50_000),
  seed: num('BENCH_SEED', 4242),
};

/** Load on `target` for `duration` s: closed loop, or at `rate` plays/s; CPU of ingest and of the broker. */
async function load(target, bodies, headers, duration, rate = 0) {
  let i = 0;
  const broker = brokerPid();
  const cpu0 = cpuSeconds(target.proc.pid);
  const broker0 = cpuSeconds(broker);
  const r = await new Promise((res, rej) =>
    autocannon(
      {
        url: `${target.base}/v1/play-logs`,
        method: 'POST',
        connections: cfg.connections,
        duration,
        headers,
        ...(rate > 0 ? { overallRate: Math.round(rate / cfg.batch) } : {}),
        requests: [{ setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }) }],
      },
      (err, x) => (err ? rej(err) : res(x)),
    ),
  );
  const cpu = cpuSeconds(target.proc.pid) - cpu0;
  const brokerCpu = cpuSeconds(broker) - broker0;
  const plays = r['2xx'] * cfg.batch;
  return {
    playsPerSec: plays / r.duration,
    cpuPerSec: cpu / r.duration,
    perCpu: plays / cpu,
    brokerPerCpu: plays / brokerCpu,
    p50: r.latency.p50,
    non2xx: r.non2xx + r.errors,
  };
}

async function main() {
  if (!stack.plaintext) throw new Error('needs the private stack with its plaintext listener (bench/lib/run-bench.sh)');
  const notes = await machineNotes();
  console.log(`bench/ingest/trust: ${JSON.stringify(cfg)}\n${notes}`);
  const db = await freshDatabase('bench_trust');
  const key = createKey(db.url);
  const topic = await freshTopic('plays');
  const env = { KAFKA_TOPIC: topic, CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0', INGEST_WORKERS: '2' };
  const targets = {
    a: await startIngest(env),
    ap: await startIngest({ ...env, KAFKA_BROKERS: stack.plaintext.brokers, KAFKA_SECURITY_PROTOCOL: 'plaintext' }),
  };
  const { bulk } = ingestBodies({ seed: cfg.seed, day: yesterdayUtc(), pool: cfg.pool, batch: cfg.batch });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  for (const id of ['a', 'ap', 'a', 'ap']) await load(targets[id], bulk, headers, cfg.warmup / 2);
  const phases = { fixed: { a: [], ap: [] }, closed: { a: [], ap: [] } };
  for (const [phase, rate] of [
    ['fixed', cfg.rate],
    ['closed', 0],
  ]) {
    for (let round = 0; round < cfg.rounds; round++) {
      for (const id of round % 2 ? ['ap', 'a'] : ['a', 'ap']) {
        const r = await load(targets[id], bulk, headers, cfg.duration, rate);
        phases[phase][id].push(r);
        console.log(
          `${phase} round ${round + 1} (${id}): ${fmt.int(r.playsPerSec)} plays/s, p50 ${r.p50} ms, ingest ${fmt.f2(r.cpuPerSec)} cores, ` +
            `${fmt.int(r.perCpu)} plays per ingest CPU-second, ${fmt.int(r.brokerPerCpu)} per broker CPU-second, non-2xx ${r.non2xx}`,
        );
      }
    }
  }
  for (const t of Object.values(targets)) await t.proc.stop();
  const section = (phase, title) => {
    const results = phases[phase];
    const med = (id, f) => median(results[id].map((r) => r[f]));
    const perRound = (f) => results.a.map((r, i) => r[f] / results.ap[i][f]);
    return [
      `**${title}**`,
      '',
      table(
        [
          'ingest',
          'plays/s (median)',
          'p50 ms',
          'ingest CPU (cores)',
          'plays per ingest CPU-second (per round)',
          'plays per broker CPU-second',
        ],
        ['a', 'ap'].map((id) => [
          id === 'a' ? '(a) mutual TLS, as the ingest principal' : '(ap) plaintext, no authentication',
          fmt.int(med(id, 'playsPerSec')),
          med(id, 'p50'),
          fmt.f2(med(id, 'cpuPerSec')),
          `${fmt.int(med(id, 'perCpu'))} (${results[id].map((r) => fmt.int(r.perCpu)).join(' / ')})`,
          fmt.int(med(id, 'brokerPerCpu')),
        ]),
      ),
      '',
      `- (a)/(ap) plays per ingest CPU-second: median of per-round ratios **${fmt.f3(median(perRound('perCpu')))}**, ratio of medians **${fmt.f3(med('a', 'perCpu') / med('ap', 'perCpu'))}** (issue 27's goal ≥ 0.9; per round ${perRound('perCpu').map(fmt.f3).join(', ')})`,
      `- (a)/(ap) plays per broker CPU-second: median of per-round ratios ${fmt.f3(median(perRound('brokerPerCpu')))}, ratio of medians ${fmt.f3(med('a', 'brokerPerCpu') / med('ap', 'brokerPerCpu'))}; plays/s ratio of medians ${fmt.f3(med('a', 'playsPerSec') / med('ap', 'playsPerSec'))}`,
      '',
    ];
  };
  const md = [
    `Bulk route, ${cfg.batch}-play requests over ${cfg.connections} connections, 2 workers each; ${cfg.rounds} rounds × ${cfg.duration} s per phase, order alternating, after ${cfg.warmup} s of warm-up each.`,
    '',
    ...section('fixed', `At a fixed ${fmt.int(cfg.rate)} plays/s offered to each`),
    ...section('closed', 'Closed loop: as many as each takes (the broker shares the 2 cores)'),
    notes,
    `- Load average at end: ${loadAvgNow()}`,
    '',
  ].join('\n');
  writeFileSync(join(outDir('ingest'), 'trust.md'), md);
  console.log(`\n${md}`);
  return 0;
}

runMain(main, num('BENCH_DEADLINE_SECONDS', 900));
