// bench/loader (issue 5): the same N plays, pre-filled on a topic, loaded into Postgres by
//   (a) Playlog's loader (apps/loader/dist/bundle/main.js, fresh group, fresh database), as it runs: mutual TLS
//       to Kafka and to Postgres, as its own principal and role,
//   (ap) the same loader over plaintext without authentication (the private stack's baseline listener and
//       database access): what TLS and authentication cost it (issue 27),
//   (b) psql \copy of the same rows as CSV (playCsvLine) into the same plays table,
//   (c) a naive consumer: 500-row multi-row INSERTs, offsets committed after each.
// (a) and (c) are timed from process start until the group's committed offsets reach the end.
// Usage: bash bench/loader/run.sh   (settings: BENCH_* environment variables, see `cfg` below)
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { databaseUrlAs } from '@playlog/config';
import { PLAY_COLUMNS, playCsvLine } from '@playlog/db';
import { caughtUp } from '@playlog/kafka';
import { encodePlays, normalizePlay } from '@playlog/schema';
import { playGenerator } from '../../tools/loadgen/dist/plays.js';
import {
  brokerPid,
  cpuSeconds,
  dropDatabase,
  fmt,
  freePort,
  freshDatabase,
  freshGroup,
  freshTopic,
  loadAvgNow,
  machineCpuSeconds,
  machineNotes,
  median,
  onCleanup,
  outDir,
  plaintextDatabaseUrl,
  rssSampler,
  runMain,
  stack,
  startProcess,
  table,
  yesterdayUtc,
} from '../lib/common.mjs';
import { committedPoller, fastProducer, watermarks } from '../lib/kafka.mjs';
import { summarize } from '../lib/cpuprofile.mjs';
import { writeFileSync } from 'node:fs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const cfg = {
  plays: num('BENCH_PLAYS', 1_000_000),
  rounds: num('BENCH_ROUNDS', 3),
  batchSize: num('BENCH_LOADER_BATCH_SIZE', 5_000),
  batchSize2: num('BENCH_LOADER_BATCH_SIZE_2', 0), // a second loader variant (a2) with this batch size; 0: none
  // Or (a2) with any settings: BENCH_A2_ENV='{"LOADER_WRITE_CONCURRENCY":"3","LOADER_DB_POOL_MAX":"3"}'.
  a2Env: process.env.BENCH_A2_ENV ? JSON.parse(process.env.BENCH_A2_ENV) : undefined,
  naiveRows: num('BENCH_NAIVE_ROWS', 500),
  perMessage: num('BENCH_PLAYS_PER_MESSAGE', 100), // as ingest writes a 100-play bulk request
  partitions: num('BENCH_PARTITIONS', 6),
  seed: num('BENCH_SEED', 5151),
  profile: (process.env.BENCH_PROFILE ?? '1') === '1', // one extra, untimed loader run under --cpu-prof
  // Which runs (default all): e.g. a,ap for only the cost of TLS and authentication (issue 27).
  only: process.env.BENCH_LOADER_IDS ? process.env.BENCH_LOADER_IDS.split(',') : undefined,
  runTimeoutSeconds: num('BENCH_RUN_TIMEOUT_SECONDS', 300),
};
const DAY = yesterdayUtc();
const COLUMNS = PLAY_COLUMNS.join(',');

/**
 * N distinct plays, normalised as ingest would, onto the topic as ingest writes them (messages of
 * `perMessage` plays, no key, a play-count header) and into a CSV file.
 */
async function prefill(topic, csvPath) {
  const next = playGenerator({ seed: cfg.seed, day: DAY, users: 50_000, tracks: 20_000 });
  const producer = await fastProducer();
  const fd = openSync(csvPath, 'w');
  const seen = new Set();
  const days = new Set();
  let buf = '';
  let chunk = [];
  let messages = 0;
  const flush = async () => {
    await producer.produce(topic, null, encodePlays(chunk), [{ 'play-count': String(chunk.length) }]);
    messages++;
    chunk = [];
  };
  const t0 = performance.now();
  const now = Date.now();
  while (seen.size < cfg.plays) {
    const n = normalizePlay(next(), { client: 'bench', apiKeyName: 'default', now, clockSkewMs: 300_000 });
    if (!n.ok) throw new Error(`generated play not valid: ${n.error.message}`);
    const p = n.play;
    if (seen.has(p.playId)) continue; // \copy into a table with a primary key needs distinct plays
    seen.add(p.playId);
    days.add(p.playedAt.slice(0, 10));
    chunk.push(p);
    if (chunk.length === cfg.perMessage) await flush();
    buf += playCsvLine(p);
    if (buf.length > 1 << 20) {
      writeSync(fd, buf);
      buf = '';
    }
  }
  if (chunk.length > 0) await flush();
  writeSync(fd, buf);
  closeSync(fd);
  await producer.close();
  const onTopic = (await watermarks(topic)).reduce((sum, w) => sum + w.high - w.low, 0);
  if (onTopic !== messages) throw new Error(`prefill: ${onTopic} messages on ${topic}, expected ${messages}`);
  return {
    seconds: (performance.now() - t0) / 1000,
    delivered: onTopic,
    plays: seen.size,
    days: [...days].sort(),
    csvBytes: statSync(csvPath).size,
  };
}

async function dbQuery(url, sql, params) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

async function ensureDays(url, days) {
  await dbQuery(url, 'select ensure_play_partition(d::date) from unnest($1::text[]) as d', [days]);
}

async function countRows(url) {
  return Number((await dbQuery(url, 'select count(*)::bigint as n from plays')).rows[0].n);
}

/**
 * CPU seconds of the Postgres backends serving `appName` in database `db` (they live as long as their
 * pool), and what each of them is doing now: on CPU, idle (waiting for its client), or waiting on
 * something in the server (its wait event), counted into `waits`.
 */
async function backendCpu(db, appName, waits) {
  const r = await db.query(
    `select pid, state, coalesce(wait_event_type || ':' || wait_event, 'CPU') as wait
       from pg_stat_activity where application_name = $1 and datname = current_database()`,
    [appName],
  );
  for (const x of r.rows) {
    const k = x.state === 'idle' || x.state === 'idle in transaction' || x.wait === 'Client:ClientRead' ? 'waiting for its client' : x.wait;
    if (waits) waits[k] = (waits[k] ?? 0) + 1;
  }
  return r.rows.reduce((s, x) => s + (cpuSeconds(x.pid) ?? 0), 0);
}

/** The loader's counters that say where its time went (apps/loader/src/metrics.ts), from its /metrics. */
const LOADER_TIME_METRICS = {
  decodeSeconds: 'playlog_loader_decode_seconds_total',
  slotWaitSeconds: 'playlog_loader_write_slot_wait_seconds_total',
  writesIdleSeconds: 'playlog_loader_writes_idle_seconds_total',
  writeSecondsSum: 'playlog_loader_write_duration_seconds_sum',
};

async function loaderTimes(url) {
  const text = await (await fetch(url)).text();
  const value = (name) => Number(text.match(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm'))?.[1] ?? NaN);
  return Object.fromEntries(Object.entries(LOADER_TIME_METRICS).map(([k, name]) => [k, value(name)]));
}

/** Starts a consumer process and times it until the group has committed every offset of the topic. */
async function timeConsumer(label, { topic, command, args, env, appName, dbUrl, metricsUrl }) {
  const ends = (await watermarks(topic)).map((w) => ({ partition: w.partition, end: w.high, committed: -1 }));
  // Connected before the clock starts: its handshake is not the loader's time.
  const poller = await committedPoller(topic, env.KAFKA_GROUP_ID);
  onCleanup(() => poller.close());
  // One connection for the sampling, opened before the clock starts, and sampling on its own loop: a
  // connection per sample (a backend forked, a TLS handshake) cost the machine CPU during (a) alone and
  // delayed seeing the last commit by up to a sampling round.
  const sampleDb = new pg.Client({ connectionString: dbUrl });
  await sampleDb.connect();
  onCleanup(() => sampleDb.end().catch(() => undefined));
  const t0 = performance.now();
  const machine0 = machineCpuSeconds();
  const broker0 = cpuSeconds(brokerPid()) ?? 0;
  const waits = {};
  const proc = startProcess(command, args, { env, logFile: join(outDir('loader'), `${label.replace(/\W+/g, '-')}.log`) });
  const sampler = rssSampler(proc.pid, 200);
  let first;
  let pgCpu = 0;
  let sampling = true;
  const sampled = (async () => {
    while (sampling) {
      // Sample the backends' CPU while they exist (a pool may close idle ones).
      pgCpu = Math.max(pgCpu, await backendCpu(sampleDb, appName, waits).catch(() => 0));
      await sleep(250);
    }
  })();
  for (;;) {
    if (!proc.running()) throw new Error(`${label} exited early: ${JSON.stringify(await proc.exited)}`);
    const p = await poller
      .committed()
      .then((partitions) => ({ partitions }))
      .catch(() => undefined);
    const now = performance.now();
    if (p) {
      const committed = p.partitions.reduce((s, x) => s + Math.max(0, x.committed), 0);
      if (first === undefined && committed > 0) first = { t: now, committed };
      if (caughtUp(p, ends)) break;
    }
    if ((now - t0) / 1000 > cfg.runTimeoutSeconds) throw new Error(`${label} did not finish within ${cfg.runTimeoutSeconds}s`);
    await sleep(100);
  }
  const seconds = (performance.now() - t0) / 1000;
  sampling = false;
  await sampled;
  await poller.close();
  const machineCores = (machineCpuSeconds() - machine0) / seconds;
  const brokerCpu = (cpuSeconds(brokerPid()) ?? 0) - broker0;
  const procCpu = cpuSeconds(proc.pid);
  pgCpu = Math.max(pgCpu, await backendCpu(sampleDb, appName).catch(() => 0));
  await sampleDb.end().catch(() => undefined);
  const times = metricsUrl ? await loaderTimes(metricsUrl).catch(() => undefined) : undefined;
  const rss = sampler.stop();
  const exit = await proc.stop('SIGTERM');
  // Offsets count messages; a message holds cfg.plays / (all messages) plays.
  const messages = ends.reduce((sum, e) => sum + e.end, 0);
  const steady = first ? (((messages - first.committed) / messages) * cfg.plays) / (seconds - (first.t - t0) / 1000) : NaN;
  return {
    seconds,
    rowsPerSec: cfg.plays / seconds,
    steadyRowsPerSec: steady,
    firstCommitAfter: first ? (first.t - t0) / 1000 : NaN,
    rssMiB: rss,
    procCpu,
    pgCpu,
    brokerCpu,
    machineCores,
    waits,
    times,
    exit,
  };
}

async function runLoader(topic, dlq, batchSize, extraArgs = [], plaintext = false, extraEnv = {}) {
  const db = await freshDatabase('bench_loader_a');
  const port = await freePort();
  const env = {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: dlq,
    KAFKA_GROUP_ID: freshGroup(),
    DATABASE_URL: db.url,
    ...(plaintext
      ? {
          KAFKA_BROKERS: stack.plaintext.brokers,
          KAFKA_SECURITY_PROTOCOL: 'plaintext',
          DATABASE_URL: plaintextDatabaseUrl(db.url, 'playlog_loader'),
        }
      : {}),
    LOADER_BATCH_SIZE: String(batchSize),
    LOADER_PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const r = await timeConsumer('loader', {
    topic,
    command: 'node',
    args: [...extraArgs, 'apps/loader/dist/bundle/main.js'],
    env,
    appName: 'playlog-loader',
    dbUrl: db.adminUrl,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
  });
  r.rows = await countRows(db.adminUrl);
  await dropDatabase(db.name);
  return r;
}

async function runNaive(topic, days) {
  const db = await freshDatabase('bench_loader_c');
  await ensureDays(db.adminUrl, days);
  const env = {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: freshGroup(),
    DATABASE_URL: db.url,
    ROWS: String(cfg.naiveRows),
  };
  const r = await timeConsumer('naive consumer', {
    topic,
    command: 'node',
    args: ['bench/loader/naive-consumer.mjs'],
    env,
    appName: 'playlog-bench-naive',
    dbUrl: db.adminUrl,
  });
  r.rows = await countRows(db.adminUrl);
  await dropDatabase(db.name);
  return r;
}

async function runCopy(csvPath, days) {
  const db = await freshDatabase('bench_loader_b');
  await ensureDays(db.adminUrl, days);
  // Sampling as for the loader: one connection, opened before the clock starts, on its own loop.
  const sampleDb = new pg.Client({ connectionString: db.adminUrl });
  await sampleDb.connect();
  const t0 = performance.now();
  const machine0 = machineCpuSeconds();
  const waits = {};
  const psql = spawn(
    'psql',
    // As the loader's role, over TLS with its certificate, as the loader connects.
    [
      databaseUrlAs('loader', db.url),
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      `\\copy plays (${COLUMNS}) from '${csvPath}' with (format csv)`,
    ],
    {
      env: { ...process.env, PGAPPNAME: 'playlog-bench-copy' },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: cfg.runTimeoutSeconds * 1000,
    },
  );
  let stderr = '';
  psql.stderr.on('data', (d) => (stderr += d));
  let endedAt = 0;
  const exited = new Promise((res) =>
    psql.on('exit', (code) => {
      endedAt = performance.now();
      res(code);
    }),
  );
  // Its backend's CPU, sampled while it exists (it goes when psql exits).
  let pgCpu = 0;
  let code;
  while ((code = await Promise.race([exited, sleep(250).then(() => undefined)])) === undefined) {
    pgCpu = Math.max(pgCpu, await backendCpu(sampleDb, 'playlog-bench-copy', waits).catch(() => 0));
  }
  await sampleDb.end().catch(() => undefined);
  const seconds = (endedAt - t0) / 1000;
  const machineCores = (machineCpuSeconds() - machine0) / seconds;
  if (code !== 0) throw new Error(`psql \\copy failed (${code}): ${stderr}`);
  const rows = await countRows(db.adminUrl);
  await dropDatabase(db.name);
  return { seconds, rowsPerSec: cfg.plays / seconds, rows, pgCpu, machineCores, waits };
}

async function main() {
  const out = outDir('loader');
  const notes = await machineNotes();
  console.log(`bench/loader: ${JSON.stringify(cfg)}\n${notes}`);
  const started = performance.now();
  const topic = await freshTopic('plays', cfg.partitions);
  const dlq = await freshTopic('dlq', 1);
  const csvPath = join(out, 'plays.csv');
  const pre = await prefill(topic, csvPath);
  console.log(
    `prefill: ${fmt.int(pre.delivered)} messages on ${topic} and ${fmt.int(pre.csvBytes / 2 ** 20)} MiB of CSV in ${fmt.f1(pre.seconds)} s; days ${pre.days.join(', ')}`,
  );

  const a2Env = cfg.a2Env ?? (cfg.batchSize2 > 0 ? { LOADER_BATCH_SIZE: String(cfg.batchSize2) } : undefined);
  const ids = ['a', ...(stack.plaintext ? ['ap'] : []), ...(a2Env ? ['a2'] : []), 'b', 'c'].filter(
    (id) => !cfg.only || cfg.only.includes(id),
  );
  const results = Object.fromEntries(ids.map((id) => [id, []]));
  for (let round = 0; round < cfg.rounds; round++) {
    const order = ids.map((_, i) => ids[(i + round) % ids.length]); // rotate the order every round
    for (const id of order) {
      const r =
        id === 'a'
          ? await runLoader(topic, dlq, cfg.batchSize)
          : id === 'ap'
            ? await runLoader(topic, dlq, cfg.batchSize, [], true)
            : id === 'a2'
              ? await runLoader(topic, dlq, cfg.batchSize, [], false, a2Env)
              : id === 'b'
                ? await runCopy(csvPath, pre.days)
                : await runNaive(topic, pre.days);
      if (r.rows !== cfg.plays) throw new Error(`(${id}) loaded ${r.rows} rows, expected ${cfg.plays}`);
      results[id].push(r);
      console.log(
        `round ${round + 1} (${id}): ${fmt.f1(r.seconds)} s, ${fmt.int(r.rowsPerSec)} rows/s` +
          (r.steadyRowsPerSec
            ? `, after first commit ${fmt.int(r.steadyRowsPerSec)} rows/s (first commit at ${fmt.f1(r.firstCommitAfter)} s)`
            : '') +
          (r.rssMiB
            ? `, peak RSS ${fmt.int(r.rssMiB)} MiB, process CPU ${fmt.f1(r.procCpu)} s, its Postgres backends ${fmt.f1(r.pgCpu)} s`
            : ''),
      );
    }
  }

  let profile;
  if (cfg.profile) {
    const dir = join(out, 'prof');
    rmSync(dir, { recursive: true, force: true });
    const r = await runLoader(topic, dlq, cfg.batchSize, ['--cpu-prof', '--cpu-prof-dir', dir]);
    const { readdirSync } = await import('node:fs');
    // One file per thread: CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile; thread 0 is the main one.
    const threads = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .map((f) => {
        const tid = f.split('.').at(-3);
        return {
          thread: tid === '0' ? 'main thread (the load loop)' : `worker thread ${tid} (decoding)`,
          file: join(dir, f),
          summary: summarize(join(dir, f), 30),
        };
      });
    profile = { run: r, threads };
    console.log(`profiled run: ${fmt.f1(r.seconds)} s (profiling slows it); profiles ${threads.map((x) => x.file).join(', ')}`);
  }
  rmSync(csvPath, { force: true });

  const med = (id, f) => median(results[id].map((r) => r[f]));
  const summary = Object.fromEntries(
    ids.map((id) => [
      id,
      { seconds: med(id, 'seconds'), rowsPerSec: med(id, 'rowsPerSec'), steadyRowsPerSec: med(id, 'steadyRowsPerSec') },
    ]),
  );
  const ratios = {};
  if (summary.b) {
    ratios.loaderVsCopy = summary.a.rowsPerSec / summary.b.rowsPerSec;
    ratios.perRoundVsCopy = results.a.map((r, i) => r.rowsPerSec / results.b[i].rowsPerSec);
    ratios.steadyVsCopy = summary.a.steadyRowsPerSec / summary.b.rowsPerSec;
  }
  if (summary.c) {
    ratios.loaderVsNaive = summary.a.rowsPerSec / summary.c.rowsPerSec;
    ratios.perRoundVsNaive = results.a.map((r, i) => r.rowsPerSec / results.c[i].rowsPerSec);
  }
  // What TLS and authentication cost the loader: its plays per CPU-second (its process; and with its
  // Postgres backends, which do the server side of TLS) over TLS against plaintext, same run.
  const perCpu = (r) => cfg.plays / r.procCpu;
  const perCpuWithDb = (r) => cfg.plays / (r.procCpu + r.pgCpu);
  if (summary.ap) {
    ratios.tlsPerCpu = median(results.a.map(perCpu)) / median(results.ap.map(perCpu));
    ratios.tlsPerCpuPerRound = results.a.map((r, i) => perCpu(r) / perCpu(results.ap[i]));
    ratios.tlsPerCpuWithDb = median(results.a.map(perCpuWithDb)) / median(results.ap.map(perCpuWithDb));
    ratios.tlsPerCpuWithDbPerRound = results.a.map((r, i) => perCpuWithDb(r) / perCpuWithDb(results.ap[i]));
    ratios.tlsRows = summary.a.rowsPerSec / summary.ap.rowsPerSec;
    ratios.tlsRowsPerRound = results.a.map((r, i) => r.rowsPerSec / results.ap[i].rowsPerSec);
  }
  if (summary.a2 && summary.b) {
    ratios.a2VsCopy = summary.a2.rowsPerSec / summary.b.rowsPerSec;
    ratios.a2VsCopyPerRound = results.a2.map((r, i) => r.rowsPerSec / results.b[i].rowsPerSec);
  }
  if (summary.a2) {
    ratios.a2VsA = summary.a2.rowsPerSec / summary.a.rowsPerSec;
    ratios.a2VsAPerRound = results.a2.map((r, i) => r.rowsPerSec / results.a[i].rowsPerSec);
  }
  const report = {
    cfg,
    day: DAY,
    notes,
    prefill: pre,
    results,
    summary,
    ratios,
    profile,
    totalSeconds: (performance.now() - started) / 1000,
    loadAvgEnd: loadAvgNow(),
  };
  writeFileSync(join(out, 'results.json'), JSON.stringify(report, null, 2));
  const md = markdown(report);
  writeFileSync(join(out, 'results.md'), md);
  console.log(`\n${md}`);
  return 0;
}

function markdown({ cfg: c, summary: s, ratios, results, prefill: pre, profile, notes, totalSeconds, loadAvgEnd }) {
  const per = (id) => results[id].map((r) => fmt.f1(r.seconds)).join(' / ');
  const consumerRow = (id, label) => [
    label,
    fmt.f1(s[id].seconds),
    fmt.int(s[id].rowsPerSec),
    fmt.int(s[id].steadyRowsPerSec),
    per(id),
    fmt.int(Math.max(...results[id].map((r) => r.rssMiB))),
    fmt.f1(median(results[id].map((r) => r.procCpu))),
    fmt.f1(median(results[id].map((r) => r.pgCpu))),
  ];
  const rows = [
    consumerRow('a', `(a) Playlog loader, LOADER_BATCH_SIZE=${c.batchSize} (mutual TLS to Kafka and Postgres)`),
    ...(s.ap ? [consumerRow('ap', '(ap) the same loader over plaintext, no authentication')] : []),
    ...(s.a2 ? [consumerRow('a2', `(a2) Playlog loader, ${a2Label(c)}`)] : []),
    ...(s.b
      ? [
          [
            '(b) psql \\copy',
            fmt.f1(s.b.seconds),
            fmt.int(s.b.rowsPerSec),
            '',
            per('b'),
            '',
            '',
            fmt.f1(median(results.b.map((r) => r.pgCpu))),
          ],
        ]
      : []),
  ];
  if (s.c) {
    rows.push([
      `(c) naive ${c.naiveRows}-row INSERTs`,
      fmt.f1(s.c.seconds),
      fmt.int(s.c.rowsPerSec),
      fmt.int(s.c.steadyRowsPerSec),
      per('c'),
      fmt.int(Math.max(...results.c.map((r) => r.rssMiB))),
      fmt.f1(median(results.c.map((r) => r.procCpu))),
      fmt.f1(median(results.c.map((r) => r.pgCpu))),
    ]);
  }
  const lines = [
    `${fmt.int(c.plays)} distinct plays on a ${c.partitions}-partition topic (pre-filled in ${fmt.f1(pre.seconds)} s), medians of ${c.rounds} rounds, order rotating per round. Whole run ${fmt.f1(totalSeconds)} s.`,
    '',
    table(
      [
        'loader',
        'median s',
        'rows/s',
        'rows/s after 1st commit',
        'per round s',
        'peak RSS MiB',
        'process CPU s',
        'its Postgres backends CPU s',
      ],
      rows,
    ),
    '',
    ...(s.b
      ? [
          `- (a)/(b) loader vs \\copy, rows/s: ratio of medians **${fmt.f3(ratios.loaderVsCopy)}**, median of per-round ratios **${fmt.f3(median(ratios.perRoundVsCopy))}** (issue 31's goal ≥ 0.9; per round ${ratios.perRoundVsCopy.map(fmt.f3).join(', ')}; steady state after the first commit ${fmt.f3(ratios.steadyVsCopy)})`,
        ]
      : []),
    ...(s.c
      ? [
          `- (a)/(c) loader vs naive = **${fmt.f2(ratios.loaderVsNaive)}×** (goal ≥ 3×; per round ${ratios.perRoundVsNaive.map(fmt.f2).join(', ')})`,
        ]
      : []),
    ...(s.ap
      ? [
          `- (a)/(ap) what TLS and authentication cost the loader (issue 27's goal: at most 10 %, so ≥ 0.9): plays per loader CPU-second, ratio of medians **${fmt.f3(ratios.tlsPerCpu)}**, median of per-round ratios ${fmt.f3(median(ratios.tlsPerCpuPerRound))} (per round ${ratios.tlsPerCpuPerRound.map(fmt.f3).join(', ')}); counting its Postgres backends too ${fmt.f3(ratios.tlsPerCpuWithDb)} (median of rounds ${fmt.f3(median(ratios.tlsPerCpuWithDbPerRound))}); rows/s ${fmt.f3(ratios.tlsRows)} (median of rounds ${fmt.f3(median(ratios.tlsRowsPerRound))})`,
        ]
      : []),
    ...(s.a2
      ? [
          `- (a2) ${a2Label(c)}: vs \\copy, ratio of medians **${fmt.f3(ratios.a2VsCopy)}**, median of per-round ratios ${fmt.f3(median(ratios.a2VsCopyPerRound))}; against (a) ${fmt.f3(ratios.a2VsA)} (median of rounds ${fmt.f3(median(ratios.a2VsAPerRound))})`,
        ]
      : []),
  ];
  lines.push(...whereTimeGoes(c, results));
  for (const { thread, summary } of profile?.threads ?? []) {
    // Self time as a share of the thread's wall time, and in µs per play loaded (idle left out of neither).
    const perPlay = (ms) => fmt.f2((ms * 1000) / c.plays);
    lines.push(
      '',
      `CPU profile of one extra loader run (${fmt.f1(profile.run.seconds)} s under the profiler), ${thread}, self time:`,
      '',
      table(
        ['owner', '%', 'µs/play'],
        summary.byOwner.slice(0, 10).map((x) => [x.what, x.pct, perPlay(x.ms)]),
      ),
      '',
      table(
        ['function', '%', 'µs/play'],
        summary.byFunction.slice(0, 16).map((x) => [x.what.replaceAll('|', '\\|'), x.pct, perPlay(x.ms)]),
      ),
    );
  }
  lines.push('', notes, `- Load average at end: ${loadAvgEnd}`, '');
  return lines.join('\n');
}

/** What (a2) changes. */
function a2Label(c) {
  const env = c.a2Env ?? { LOADER_BATCH_SIZE: String(c.batchSize2) };
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/**
 * Per play, where the CPU goes (the loader's process, its Postgres backends, \copy's backend), and how
 * the loaders' time splits: decoding on the loop's thread, waiting for a write slot (the loader waiting
 * for Postgres), and no write in flight (Postgres waiting for the loader), from their own counters.
 */
function whereTimeGoes(c, results) {
  const us = (sec) => fmt.f1((sec / c.plays) * 1e6);
  const pct = (part, whole) => `${fmt.int((100 * part) / whole)} %`;
  const lines = ['', "Where the time goes (medians of the rounds; µs per play, and shares of each run's wall time):", ''];
  const rows = [];
  for (const id of ['a', 'ap', 'a2']) {
    const rs = results[id];
    if (!rs?.length || !rs.every((r) => r.times)) continue;
    const m = (f) => median(rs.map(f));
    rows.push([
      `(${id})`,
      fmt.f2(m((r) => r.machineCores)),
      us(m((r) => r.procCpu)),
      us(m((r) => r.pgCpu)),
      us(m((r) => r.brokerCpu)),
      us(m((r) => r.times.decodeSeconds)),
      pct(
        m((r) => r.times.decodeSeconds / r.seconds),
        1,
      ),
      pct(
        m((r) => r.times.slotWaitSeconds / r.seconds),
        1,
      ),
      pct(
        m((r) => r.times.writesIdleSeconds / r.seconds),
        1,
      ),
      pct(
        m((r) => r.times.writeSecondsSum / r.seconds),
        1,
      ),
    ]);
  }
  if (results.b?.length) {
    rows.push([
      '(b) \\copy',
      fmt.f2(median(results.b.map((r) => r.machineCores))),
      '',
      us(median(results.b.map((r) => r.pgCpu))),
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  lines.push(
    table(
      [
        'run',
        'machine busy (cores of 2)',
        'process CPU µs/play',
        'Postgres backends CPU µs/play',
        'broker CPU µs/play',
        'decoding µs/play',
        'decoding, share of wall',
        'waiting for a write slot (loader waits for Postgres)',
        'no write in flight (Postgres waits for the loader)',
        'batch writes in flight, summed',
      ],
      rows,
    ),
  );
  // What the backends were doing when sampled (every 250 ms), over all rounds.
  for (const id of ['a', 'ap', 'a2', 'b']) {
    const all = {};
    for (const r of results[id] ?? []) for (const [k, n] of Object.entries(r.waits ?? {})) all[k] = (all[k] ?? 0) + n;
    const total = Object.values(all).reduce((x, y) => x + y, 0);
    if (total === 0) continue;
    const parts = Object.entries(all)
      .sort((x, y) => y[1] - x[1])
      .map(([k, n]) => `${k} ${fmt.int((100 * n) / total)} %`);
    lines.push('', `- (${id}) its backends, sampled every 250 ms (${total} samples): ${parts.join(', ')}`);
  }
  return lines;
}

runMain(main, num('BENCH_DEADLINE_SECONDS', 1200));
