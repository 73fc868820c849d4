// bench/loader (issue 5): the same N plays, pre-filled on a topic, loaded into Postgres by
//   (a) Playlog's loader (apps/loader/dist/main.js, fresh group, fresh database), as it runs: mutual TLS
//       to Kafka and to Postgres, as its own principal and role,
//   (ap) the same loader over plaintext without authentication (the private stack's baseline listener and
//       database access): what TLS and authentication cost it (issue 27),
//   (b) psql \copy of the same rows as CSV (playCsvLine) into the same plays table,
//   (c) a naive consumer: 500-row multi-row INSERTs, offsets committed after each.
// (a) and (c) are timed from process start until the group's committed offsets reach the end.
// Usage: bash bench/loader/run.sh   (settings: BENCH_* environment variables, see `cfg` below)
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { databaseUrlAs } from '@playlog/config';
import { PLAY_COLUMNS, playCsvLine } from '@playlog/db';
import { caughtUp, groupProgress } from '@playlog/kafka';
import { encodePlays, normalizePlay } from '@playlog/schema';
import { playGenerator } from '../../tools/loadgen/dist/plays.js';
import {
  cpuSeconds,
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
  plaintextDatabaseUrl,
  rssSampler,
  runMain,
  stack,
  startProcess,
  table,
  yesterdayUtc,
} from '../lib/common.mjs';
import { fastProducer, watermarks } from '../lib/kafka.mjs';
import { summarize } from '../lib/cpuprofile.mjs';
import { writeFileSync } from 'node:fs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const cfg = {
  plays: num('BENCH_PLAYS', 1_000_000),
  rounds: num('BENCH_ROUNDS', 3),
  batchSize: num('BENCH_LOADER_BATCH_SIZE', 5_000),
  batchSize2: num('BENCH_LOADER_BATCH_SIZE_2', 0), // a second loader variant (a2); 0: none
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

/** CPU seconds of the Postgres backends serving `appName` in database `db` (they live as long as their pool). */
async function backendCpu(url, appName) {
  const r = await dbQuery(url, 'select pid from pg_stat_activity where application_name = $1 and datname = current_database()', [appName]);
  return r.rows.reduce((s, x) => s + (cpuSeconds(x.pid) ?? 0), 0);
}

/** Starts a consumer process and times it until the group has committed every offset of the topic. */
async function timeConsumer(label, { topic, command, args, env, appName, dbUrl }) {
  const ends = (await watermarks(topic)).map((w) => ({ partition: w.partition, end: w.high, committed: -1 }));
  const t0 = performance.now();
  const proc = startProcess(command, args, { env, logFile: join(outDir('loader'), `${label.replace(/\W+/g, '-')}.log`) });
  const sampler = rssSampler(proc.pid, 200);
  let first;
  let pgCpu = 0;
  for (;;) {
    if (!proc.running()) throw new Error(`${label} exited early: ${JSON.stringify(await proc.exited)}`);
    const p = await groupProgress(stack.kafka, topic, env.KAFKA_GROUP_ID).catch(() => undefined);
    const now = performance.now();
    if (p) {
      const committed = p.partitions.reduce((s, x) => s + Math.max(0, x.committed), 0);
      if (first === undefined && committed > 0) first = { t: now, committed };
      if (caughtUp(p, ends)) break;
    }
    if ((now - t0) / 1000 > cfg.runTimeoutSeconds) throw new Error(`${label} did not finish within ${cfg.runTimeoutSeconds}s`);
    // Sample the backends' CPU while they exist (a pool may close idle ones).
    pgCpu = Math.max(pgCpu, await backendCpu(dbUrl, appName).catch(() => 0));
    await sleep(250);
  }
  const seconds = (performance.now() - t0) / 1000;
  const procCpu = cpuSeconds(proc.pid);
  pgCpu = Math.max(pgCpu, await backendCpu(dbUrl, appName).catch(() => 0));
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
    exit,
  };
}

async function runLoader(topic, dlq, batchSize, extraArgs = [], plaintext = false) {
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
  };
  const r = await timeConsumer('loader', {
    topic,
    command: 'node',
    args: [...extraArgs, 'apps/loader/dist/main.js'],
    env,
    appName: 'playlog-loader',
    dbUrl: db.adminUrl,
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
  const t0 = performance.now();
  const r = spawnSync(
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
      encoding: 'utf8',
      timeout: cfg.runTimeoutSeconds * 1000,
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`psql \\copy failed: ${r.stderr || r.error}`);
  const rows = await countRows(db.adminUrl);
  await dropDatabase(db.name);
  return { seconds, rowsPerSec: cfg.plays / seconds, rows };
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

  const ids = ['a', ...(stack.plaintext ? ['ap'] : []), ...(cfg.batchSize2 > 0 ? ['a2'] : []), 'b', 'c'].filter(
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
              ? await runLoader(topic, dlq, cfg.batchSize2)
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
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    profile = { run: r, file: join(dir, file), summary: file ? summarize(join(dir, file), 30) : undefined };
    console.log(`profiled run: ${fmt.f1(r.seconds)} s (profiling slows it); profile ${profile.file}`);
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
  if (summary.a2) {
    ratios.a2VsCopy = summary.a2.rowsPerSec / summary.b.rowsPerSec;
    ratios.a2VsNaive = summary.a2.rowsPerSec / summary.c.rowsPerSec;
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
    ...(s.a2 ? [consumerRow('a2', `(a2) Playlog loader, LOADER_BATCH_SIZE=${c.batchSize2}`)] : []),
    ...(s.b ? [['(b) psql \\copy', fmt.f1(s.b.seconds), fmt.int(s.b.rowsPerSec), '', per('b'), '', '', '']] : []),
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
          `- (a)/(b) loader vs \\copy = **${fmt.f3(ratios.loaderVsCopy)}** (goal ≥ 0.7; per round ${ratios.perRoundVsCopy.map(fmt.f3).join(', ')}; steady state after the first commit ${fmt.f3(ratios.steadyVsCopy)})`,
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
          `- (a2) with LOADER_BATCH_SIZE=${c.batchSize2}: vs \\copy **${fmt.f3(ratios.a2VsCopy)}**, vs naive **${fmt.f2(ratios.a2VsNaive)}×**`,
        ]
      : []),
  ];
  if (profile?.summary) {
    lines.push('', `CPU profile of one extra loader run (${fmt.f1(profile.run.seconds)} s under the profiler), self time:`, '');
    lines.push(
      table(
        ['owner', '%'],
        profile.summary.byOwner.slice(0, 12).map((x) => [x.what, x.pct]),
      ),
    );
    lines.push(
      '',
      table(
        ['function', '%'],
        profile.summary.byFunction.slice(0, 20).map((x) => [x.what.replaceAll('|', '\\|'), x.pct]),
      ),
    );
  }
  lines.push('', notes, `- Load average at end: ${loadAvgEnd}`, '');
  return lines.join('\n');
}

runMain(main, num('BENCH_DEADLINE_SECONDS', 1200));
