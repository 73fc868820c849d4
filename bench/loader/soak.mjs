// bench/loader/soak.mjs (issue 31): the loader's memory under a sustained inflow above its rate. Plays are
// written to a fresh topic as ingest writes them (format 3, 100 plays a message, one header each) at
// BENCH_SOAK_RATE plays/s for BENCH_SOAK_SECONDS, while the built loader (as it runs: mutual TLS, its own
// role) loads them into a fresh database; then the backlog drains and the loader idles for
// BENCH_SOAK_IDLE_SECONDS. Its RSS and V8 heap are sampled every second throughout.
// Usage: bash bench/lib/run-bench.sh loader/soak   (writes bench/loader/out/soak.{md,json})
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeBatches } from '@playlog/schema';
import {
  dropDatabase,
  fmt,
  freePort,
  freshDatabase,
  freshGroup,
  freshTopic,
  loadAvgNow,
  machineNotes,
  median,
  outDir,
  procStatusKb,
  runMain,
  stack,
  startProcess,
  table,
  waitHttp,
  yesterdayUtc,
} from '../lib/common.mjs';
import { fastProducer } from '../lib/kafka.mjs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const cfg = {
  rate: num('BENCH_SOAK_RATE', 90_000), // plays/s offered, above what the loader takes on this machine
  seconds: num('BENCH_SOAK_SECONDS', 600),
  idleSeconds: num('BENCH_SOAK_IDLE_SECONDS', 60),
  perMessage: 100,
  // The loader's settings under test (its defaults unless given).
  loaderEnv: process.env.BENCH_SOAK_LOADER_ENV ? JSON.parse(process.env.BENCH_SOAK_LOADER_ENV) : {},
};
const DAY = yesterdayUtc();
const AGENTS = ['Acme/1.0 (Android 14)', 'Acme/1.0 (iOS 17.2)', 'Acme/2.1 (Web; Firefox 120)', 'Acme/2.0 (Windows 11)', null];

/**
 * Distinct plays as a request's worth of format-3 message: play n is user n mod 200 000 playing track
 * n mod 50 000 at second n / 1000 of DAY, 100-ns tick n mod 1000 (so every identity differs).
 */
function message(from, receivedAt) {
  const base = Date.parse(`${DAY}T00:00:00Z`) / 1000;
  const plays = [];
  let second = -1;
  let prefix = '';
  for (let n = from; n < from + cfg.perMessage; n++) {
    const s = Math.floor(n / 1000) % 86_400;
    if (s !== second) {
      second = s;
      prefix = new Date((base + s) * 1000).toISOString().slice(0, 19);
    }
    plays.push({
      logType: 'subscription',
      userId: `u${n % 200_000}`,
      country: 'GB',
      trackId: n % 50_000,
      releaseId: 500_000 + (n % 50_000),
      formatId: 1,
      playMode: 'online',
      endReason: null,
      dateTimePlayed: `${prefix}.${String(n % 1000).padStart(7, '0')}Z`,
      totalTimePlayed: 30 + (n % 200),
      userAgent: AGENTS[n % AGENTS.length],
      clientPlayId: null,
    });
  }
  return encodeBatches([{ head: { client: 'bench', apiKeyName: 'default', receivedAt, synthetic: false }, plays }]);
}

async function loaderCounters(url) {
  const text = await (await fetch(url)).text();
  const value = (re) => Number(text.match(re)?.[1] ?? NaN);
  return {
    inserted: value(/^playlog_loader_rows_total\{outcome="inserted"\} ([0-9.e+]+)$/m),
    heapUsedMiB: value(/^nodejs_heap_size_used_bytes ([0-9.e+]+)$/m) / 2 ** 20,
    heapTotalMiB: value(/^nodejs_heap_size_total_bytes ([0-9.e+]+)$/m) / 2 ** 20,
  };
}

async function main() {
  const notes = await machineNotes();
  console.log(`bench/loader/soak: ${JSON.stringify(cfg)}\n${notes}`);
  const topic = await freshTopic('plays', 6);
  const dlq = await freshTopic('dlq', 1);
  const db = await freshDatabase('bench_soak');
  const port = await freePort();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const loader = startProcess('node', ['apps/loader/dist/bundle/main.js'], {
    env: {
      KAFKA_BROKERS: stack.brokers,
      KAFKA_TOPIC: topic,
      KAFKA_DLQ_TOPIC: dlq,
      KAFKA_GROUP_ID: freshGroup(),
      DATABASE_URL: db.url,
      LOADER_PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...cfg.loaderEnv,
    },
    logFile: join(outDir('loader'), 'soak-loader.log'),
  });
  await waitHttp(`http://127.0.0.1:${port}/healthz`, 60_000, loader);
  const producer = await fastProducer();
  const samples = [];
  let produced = 0;
  let phase = 'inflow';
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  // Sample every second, whatever the producer is doing.
  const sampling = (async () => {
    while (phase !== 'done') {
      if (!loader.running()) throw new Error(`loader exited: ${JSON.stringify(await loader.exited)}`);
      const c = await loaderCounters(metricsUrl).catch(() => undefined);
      samples.push({ t: elapsed(), phase, produced, rssMiB: (procStatusKb(loader.pid, 'VmRSS') ?? NaN) / 1024, ...c });
      await sleep(1000);
    }
  })();
  // The inflow: every 100 ms, the plays due by then.
  while (elapsed() < cfg.seconds) {
    const due = Math.floor(elapsed() * cfg.rate);
    const receivedAt = new Date().toISOString();
    while (produced + cfg.perMessage <= due) {
      await producer.produce(topic, null, message(produced, receivedAt), [{ 'play-count': String(cfg.perMessage) }]);
      produced += cfg.perMessage;
    }
    await sleep(100);
  }
  await producer.close();
  phase = 'drain';
  const drainFrom = elapsed();
  for (;;) {
    const c = await loaderCounters(metricsUrl);
    if (c.inserted >= produced) break;
    if (elapsed() - drainFrom > 1800) throw new Error(`backlog not drained in 30 min (${c.inserted} of ${produced})`);
    await sleep(1000);
  }
  const drained = elapsed();
  phase = 'idle';
  await sleep(cfg.idleSeconds * 1000);
  phase = 'done';
  await sampling;
  await loader.stop('SIGTERM');
  await dropDatabase(db.name);

  const inPhase = (p) => samples.filter((s) => s.phase === p && Number.isFinite(s.rssMiB));
  const stats = (xs, f) => {
    const v = xs.map(f).filter(Number.isFinite);
    return v.length ? `${fmt.int(Math.min(...v))} / ${fmt.int(median(v))} / ${fmt.int(Math.max(...v))}` : '';
  };
  const byMinute = [];
  for (let m = 0; m * 60 < samples.at(-1).t; m++) {
    const xs = samples.filter((s) => s.t >= m * 60 && s.t < (m + 1) * 60);
    const last = xs.at(-1);
    byMinute.push([
      m + 1,
      [...new Set(xs.map((s) => s.phase))].join(', '),
      fmt.int(last.produced),
      fmt.int(last.inserted),
      fmt.int(last.produced - last.inserted),
      stats(xs, (s) => s.rssMiB),
      stats(xs, (s) => s.heapUsedMiB),
      stats(xs, (s) => s.heapTotalMiB),
    ]);
  }
  const inflow = inPhase('inflow');
  const loadedInInflow = inflow.at(-1).inserted;
  const md = [
    `${fmt.int(cfg.rate)} plays/s offered for ${cfg.seconds} s (${fmt.int(produced)} plays), then the backlog drained (in ${fmt.int(drained - drainFrom)} s), then ${cfg.idleSeconds} s idle. Loader settings: ${JSON.stringify(cfg.loaderEnv)} over its defaults.`,
    '',
    table(
      [
        'minute',
        'phase',
        'plays offered',
        'plays stored',
        'backlog',
        'RSS MiB min / median / max',
        'V8 heap used MiB',
        'V8 heap total MiB',
      ],
      byMinute,
    ),
    '',
    `- Loader rate during the inflow: ${fmt.int(loadedInInflow / cfg.seconds)} plays/s against ${fmt.int(cfg.rate)} offered; while draining ${fmt.int((produced - loadedInInflow) / (drained - drainFrom))} plays/s.`,
    `- RSS MiB (min / median / max): inflow ${stats(inflow, (s) => s.rssMiB)}; draining ${stats(inPhase('drain'), (s) => s.rssMiB)}; idle after ${stats(inPhase('idle'), (s) => s.rssMiB)}.`,
    `- V8 heap used MiB: inflow ${stats(inflow, (s) => s.heapUsedMiB)}; idle after ${stats(inPhase('idle'), (s) => s.heapUsedMiB)}.`,
    '',
    notes,
    `- Load average at end: ${loadAvgNow()}`,
    '',
  ].join('\n');
  writeFileSync(join(outDir('loader'), 'soak.json'), JSON.stringify({ cfg, samples }, null, 1));
  writeFileSync(join(outDir('loader'), 'soak.md'), md);
  console.log(`\n${md}`);
  return 0;
}

runMain(main, num('BENCH_DEADLINE_SECONDS', 3600));
