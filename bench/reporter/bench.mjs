// bench/reporter (issues 6 and 15): one big day of plays generated inside Postgres, then, in one run,
//   (a) Playlog's report run, cold (apps/reporter/dist/main.js run --date D --wait 0) under /usr/bin/time -v,
//       with its SQL statements timed from pg_stat_activity,
//   (b) the bare GROUP BY of the same aggregate (psql, \timing): the baseline,
//   (c) the client-usage.csv query alone (the plays in binary, per-play.ts), COPY … TO /dev/null (psql, \timing), for its share,
//   (w) the report run warm: `reporter segments` (untimed) rendered every hour first (BENCH_WARM),
//   (d) the two-level GROUP BY and (e) the reporter's integer-first key order, bare, and (s) the cold
//       run with two per-play connections (REPORT_PER_PLAY_CONNECTIONS=2) (BENCH_DIAGNOSE),
//   (g) the cold run with REPORT_COMPRESS=gzip (BENCH_GZIP).
// Usage: bash bench/reporter/run.sh   (settings: BENCH_* environment variables, see `cfg` below)
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { groupProgress } from '@playlog/kafka';
import { perPlayCopy } from '../../apps/reporter/dist/per-play.js';
import {
  fmt,
  freshDatabase,
  freshGroup,
  freshTopic,
  loadAvgNow,
  machineCpuSeconds,
  machineNotes,
  median,
  onCleanup,
  outDir,
  runMain,
  stack,
  table,
  yesterdayUtc,
} from '../lib/common.mjs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const cfg = {
  plays: num('BENCH_PLAYS', 10_000_000),
  chunk: num('BENCH_CHUNK', 1_000_000), // rows per generating INSERT
  users: num('BENCH_USERS', 1_000_000),
  tracks: num('BENCH_TRACKS', 50_000),
  rounds: num('BENCH_ROUNDS', 3),
  diagnose: (process.env.BENCH_DIAGNOSE ?? '1') === '1', // (d) two-level GROUP BY, (e) the reporter's exact-plan key order, bare
  gzip: (process.env.BENCH_GZIP ?? '0') === '1', // (g) the reporter run with REPORT_COMPRESS=gzip
  warm: (process.env.BENCH_WARM ?? '1') === '1', // (w) the reporter run after `reporter segments` rendered the hours
  threshold: 30, // ROYALTY_THRESHOLD_SECONDS default
  runTimeoutSeconds: num('BENCH_RUN_TIMEOUT_SECONDS', 600),
};
const DAY = yesterdayUtc();
const CLIENT = 'bench';
const PARTITION = `plays_p${DAY.replaceAll('-', '')}`;

/** Rows shaped like tools/loadgen's plays, in played_at order (as a loader appends them), deterministic. */
function generateSql(lo, hi) {
  const step = 86_400 / cfg.plays;
  return `
  insert into plays (play_id, played_at, client, api_key_name, client_play_id, log_type, user_id, country, track_id, release_id,
                     format_id, play_mode, end_reason, date_time_played, total_time_played, user_agent, synthetic, received_at)
  select md5('${CLIENT}/' || g)::uuid, at, '${CLIENT}', 'default', null, lt,
         'user-' || (1 + floor(r3 * ${cfg.users}))::int,
         (array['GB','GB','GB','US','US','DE','FR','NL','SE','IE','ES','IT','BR','JP','AU'])[1 + floor(r4 * 15)::int],
         track, 500000 + track / 12,
         (array[26,26,17,55])[1 + floor(r5 * 4)::int],
         case when lt = 'subscription' then (array['online','online','online','offline','online-cached'])[1 + floor(r6 * 5)::int] end,
         case when lt = 'catalogue' then (array['naturalEnd','naturalEnd','userSkipped','other'])[1 + floor(r6 * 4)::int] end,
         to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '0Z',
         case when r7 < 0.05 then 0 when r7 < 0.2 then floor(r8 * 30)::int when r7 < 0.25 then 29 + floor(r8 * 3)::int
              else 120 + floor(r8 * 180)::int end,
         (array['AcmeMusic/5.2.1 (Android 14; Pixel 8)','AcmeMusic/5.2.0 (iOS 18.1; iPhone15,2)','AcmeMusic/5.1.9 (Windows 11)',
                'AcmeCar/2.0 (Automotive)'])[1 + floor(r9 * 4)::int],
         false, at + interval '2 seconds'
    from (select g,
                 ('${DAY}'::date::timestamp at time zone 'UTC') + ((g - 1 + random()) * ${step}) * interval '1 second' as at,
                 case when random() < 0.85 then 'subscription' else 'catalogue' end as lt,
                 1000 + floor(random() ^ 2 * ${cfg.tracks})::int as track,
                 random() as r3, random() as r4, random() as r5, random() as r6, random() as r7, random() as r8, random() as r9
            from generate_series(${lo}, ${hi}) g) s`;
}

const IN_DAY = `played_at >= ('${DAY}'::date::timestamp at time zone 'UTC') and played_at < (('${DAY}'::date + 1)::timestamp at time zone 'UTC')`;

/** The aggregate of apps/reporter/src/usage.ts insertAggregates, as a plain SELECT with the same values. */
const BARE_AGGREGATE = `select log_type, country, track_id, release_id, coalesce(play_mode, '') as play_mode,
       count(*) as streams, count(*) filter (where total_time_played >= ${cfg.threshold}) as royalty_bearing_streams,
       count(distinct user_id) as unique_listeners, sum(total_time_played) as seconds_played
  from plays
 where client = '${CLIENT}' and ${IN_DAY} and not synthetic
 group by log_type, country, track_id, release_id, coalesce(play_mode, '')`;

/** psql with \timing; returns the server round-trip time it printed (ms) and the process's wall time. */
function psqlTimed(url, sql) {
  const cpu0 = machineCpuSeconds();
  const t0 = performance.now();
  const commands = (Array.isArray(sql) ? sql : [sql]).flatMap((q) => ['-c', q]);
  const r = spawnSync('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', '\\timing on', '-c', '\\o /dev/null', ...commands], {
    encoding: 'utf8',
    timeout: cfg.runTimeoutSeconds * 1000,
    maxBuffer: 1 << 20,
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr || r.error}`);
  // One "Time:" per command; an array of commands is timed as their sum.
  const times = [...r.stdout.matchAll(/Time: ([\d.]+) ms/g)].map((m) => Number(m[1]));
  const machineCpu = machineCpuSeconds() - cpu0;
  return { seconds: times.reduce((a, b) => a + b, 0) / 1000, wall, parts: times.map((t) => t / 1000), machineCpu };
}

function classify(query) {
  const q = query.replace(/\s+/g, ' ');
  if (/^select client from play_buckets/.test(q)) return 'clientsForDay (from play_buckets)';
  if (/^select coalesce\(sum\(plays\), 0\)::bigint as plays/.test(q)) return 'fingerprint (from play_buckets)';
  if (/^create table "daily_usage_/.test(q)) return "aggregate → the version's own table (CREATE TABLE AS, parallel)";
  if (/^select attach_daily_usage/.test(q)) return 'attach it under daily_usage (constraints, ATTACH PARTITION)';
  if (/^copy \( select .* from "daily_usage_/.test(q)) return 'COPY daily-usage.csv (from that table, in its stored order)';
  if (/^copy \( select played_at, play_id, date_time_played/.test(q))
    return "COPY client-usage.csv's hours (the plays in binary, in index order; summed over the per-play connections)";
  if (/^set transaction snapshot|^begin isolation level repeatable read read only/.test(q)) return 'other statements';
  return 'other statements';
}

/** Polls pg_stat_activity for the reporter's backend and turns what it saw into per-statement durations. */
function watchStatements(url) {
  const seen = new Map(); // `${pid}/${query_start}` -> { start, end, query }
  const c = new pg.Client({ connectionString: url, application_name: 'playlog-bench-watch' });
  let stop = false;
  const done = (async () => {
    await c.connect();
    while (!stop) {
      const r = await c.query(
        `select pid, query, state, extract(epoch from query_start)::float8 as qs, extract(epoch from state_change)::float8 as sc,
                extract(epoch from clock_timestamp())::float8 as now
           from pg_stat_activity
          where application_name = 'playlog-reporter' and backend_type = 'client backend' and query_start is not null`,
      );
      for (const x of r.rows) {
        const k = `${x.pid}/${x.qs}`;
        const s = seen.get(k) ?? { start: x.qs, end: x.now, query: x.query, finished: false };
        if (x.state === 'active') s.end = Math.max(s.end, x.now);
        else {
          s.end = x.sc;
          s.finished = true;
        }
        seen.set(k, s);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    await c.end();
  })();
  return async () => {
    stop = true;
    await done;
    const list = [...seen.entries()].map(([k, s]) => ({ ...s, pid: k.split('/')[0] })).sort((a, b) => a.start - b.start);
    // A statement not seen finishing ended when its backend's next one started (each of the reporter's
    // two connections runs its statements back to back; the two run side by side).
    list.forEach((s, i) => {
      const next = list.slice(i + 1).find((x) => x.pid === s.pid);
      if (!s.finished && next) s.end = Math.max(s.end, next.start);
    });
    const by = new Map();
    for (const s of list) {
      const k = classify(s.query);
      by.set(k, (by.get(k) ?? 0) + (s.end - s.start));
    }
    return Object.fromEntries(by);
  };
}

async function runReporter(dbUrl, topic, reportDir, compress = 'none', perPlayConnections = 1) {
  const stopWatch = watchStatements(dbUrl);
  const cpu0 = machineCpuSeconds();
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-v', 'node', 'apps/reporter/dist/main.js', 'run', '--date', DAY, '--wait', '0'], {
    env: {
      ...process.env,
      DATABASE_URL: dbUrl,
      REPORT_DIR: reportDir,
      KAFKA_BROKERS: stack.brokers,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: freshGroup(),
      REPORT_COMPRESS: compress,
      REPORT_PER_PLAY_CONNECTIONS: String(perPlayConnections),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup(() => child.exitCode === null && child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), cfg.runTimeoutSeconds * 1000);
  const code = await new Promise((res) => child.on('exit', (c) => res(c)));
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const machineCpu = machineCpuSeconds() - cpu0;
  const phases = await stopWatch();
  if (code !== 0 || !/^issued /m.test(out)) throw new Error(`reporter failed (exit ${code}): ${out}\n${err}`);
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(err)?.[1]);
  const cpu = ['User time \\(seconds\\)', 'System time \\(seconds\\)'].reduce(
    (sum, k) => sum + Number(new RegExp(`${k}: ([\\d.]+)`).exec(err)?.[1] ?? 0),
    0,
  );
  const manifestPath = /^issued .*: (\S+)$/m.exec(out)?.[1];
  const manifest = JSON.parse(readFileSync(join(manifestPath, 'manifest.json'), 'utf8'));
  return {
    seconds,
    machineCpu,
    rssMiB: rssKb / 1024,
    cpu,
    phases,
    plays: manifest.plays,
    rows: manifest.rows['daily-usage.csv'],
    bytes: {
      daily: manifest.files['daily-usage.csv'].bytes,
      client: (manifest.files['client-usage.csv'] ?? manifest.files['client-usage.csv.gz']).bytes,
    },
    line: out.trim(),
  };
}

/** `reporter segments` for the bench's day (all its hours have closed), timed. */
function renderAhead(dbUrl, reportDir) {
  const cpu0 = machineCpuSeconds();
  const t0 = performance.now();
  const r = spawnSync('node', ['apps/reporter/dist/main.js', 'segments'], {
    env: { ...process.env, DATABASE_URL: dbUrl, REPORT_DIR: reportDir, KAFKA_BROKERS: stack.brokers },
    encoding: 'utf8',
    timeout: cfg.runTimeoutSeconds * 1000,
  });
  if (r.status !== 0) throw new Error(`reporter segments failed (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  return { seconds: (performance.now() - t0) / 1000, machineCpu: machineCpuSeconds() - cpu0, line: r.stdout.trim() };
}

async function main() {
  const out = outDir('reporter');
  const notes = await machineNotes();
  console.log(`bench/reporter: ${JSON.stringify(cfg)} day ${DAY}\n${notes}`);
  const started = performance.now();
  const db = await freshDatabase('bench_reporter');
  const topic = await freshTopic('plays', 1); // empty: the completeness gate passes at once
  // A just-started broker may not have its group coordinator yet, and the reporter's gate fails at once
  // on that (exit 1): wait until an offsets query works.
  for (let i = 0; ; i++) {
    try {
      await groupProgress(stack.kafka, topic, 'bench-reporter-warmup');
      break;
    } catch (err) {
      if (i >= 60) throw err;
      await new Promise((res) => setTimeout(res, 500));
    }
  }
  const c = new pg.Client({ connectionString: db.adminUrl });
  await c.connect();
  onCleanup(() => c.end().catch(() => undefined));

  const g0 = performance.now();
  await c.query('select ensure_play_partition($1::date)', [DAY]);
  await c.query('select setseed(0.42)');
  for (let lo = 1; lo <= cfg.plays; lo += cfg.chunk) {
    const hi = Math.min(cfg.plays, lo + cfg.chunk - 1);
    await c.query(generateSql(lo, hi));
    console.log(`generated ${fmt.int(hi)} plays in ${fmt.f1((performance.now() - g0) / 1000)} s`);
  }
  await c.query(`vacuum (freeze, analyze) ${PARTITION}`);
  // What the loader keeps beside the plays it stores (the reporter finds its days there).
  await c.query('select refresh_play_buckets($1, $1)', [DAY]);
  const genSeconds = (performance.now() - g0) / 1000;
  const size = (await c.query(`select pg_size_pretty(pg_total_relation_size('${PARTITION}')) as s`)).rows[0].s;
  const groups = Number((await c.query(`select count(*)::bigint as n from (${BARE_AGGREGATE}) x`)).rows[0].n); // also warms the cache
  console.log(
    `generated ${fmt.int(cfg.plays)} plays (${size} with indexes) in ${fmt.f1(genSeconds)} s; ${fmt.int(groups)} daily-usage rows`,
  );
  // The reporter's own client-usage query (from its built code), sent to /dev/null by psql.
  const dayRange = { from: new Date(`${DAY}T00:00:00Z`), to: new Date(Date.parse(`${DAY}T00:00:00Z`) + 86_400_000) };
  const usageSql = perPlayCopy({ client: CLIENT, day: DAY, timezone: 'UTC', thresholdSeconds: cfg.threshold }, dayRange);
  const clientCopy = `\\copy (${/copy \(([\s\S]*)\) to stdout/.exec(usageSql)[1].replace(/\s+/g, ' ').trim()}) to '/dev/null' with (format binary)`;

  // Diagnostics: (d) the two-level GROUP BY issue 15 proposed (group keys + user in parallel, then
  // count the users), identical figures; (e) the bare GROUP BY in the key order of the reporter's exact plan (integers
  // first), identical figures too.
  const twoLevel = `select log_type, country, track_id, release_id, play_mode,
       sum(n)::bigint as streams, sum(r)::bigint as royalty_bearing_streams, count(*) as unique_listeners, sum(s)::bigint as seconds_played
  from (select log_type, country, track_id, release_id, coalesce(play_mode, '') as play_mode, user_id,
               count(*) as n, count(*) filter (where total_time_played >= ${cfg.threshold}) as r, sum(total_time_played) as s
          from plays where client = '${CLIENT}' and ${IN_DAY} and not synthetic
         group by log_type, country, track_id, release_id, coalesce(play_mode, ''), user_id) u
 group by log_type, country, track_id, release_id, play_mode`;
  const intFirst = BARE_AGGREGATE.replace(
    "group by log_type, country, track_id, release_id, coalesce(play_mode, '')",
    "group by track_id, release_id, country, log_type, coalesce(play_mode, '')",
  );
  if (intFirst === BARE_AGGREGATE) throw new Error('bench: the key-order variant did not apply');

  /** Forgets every issued version, so that the next run issues a full v1 again. */
  const forget = async (reportDir) => {
    const leaves = await c.query(`select relid::text as t from pg_partition_tree('daily_usage') where isleaf`);
    for (const { t } of leaves.rows) await c.query(`drop table ${t}`);
    await c.query('delete from report_versions');
    rmSync(reportDir, { recursive: true, force: true });
  };

  const reportDir = join(out, 'reports');
  const ids = ['a', 'b', 'c', ...(cfg.warm ? ['w'] : []), ...(cfg.diagnose ? ['d', 'e', 's'] : []), ...(cfg.gzip ? ['g'] : [])];
  const results = Object.fromEntries(ids.map((id) => [id, []]));
  for (let round = 0; round < cfg.rounds; round++) {
    const order = ids.map((_, i) => ids[(i + round) % ids.length]); // rotate the order every round
    for (const id of order) {
      if (id === 'a' || id === 'g' || id === 'w' || id === 's') {
        let segments;
        if (id === 'w') {
          // Warm: the hourly job has rendered every hour beforehand (not timed as part of the run).
          segments = renderAhead(db.url, reportDir);
          console.log(`round ${round + 1} (w) segments rendered ahead in ${fmt.f1(segments.seconds)} s: ${segments.line}`);
        }
        const r = await runReporter(db.url, topic, reportDir, id === 'g' ? 'gzip' : 'none', id === 's' ? 2 : 1);
        if (id === 'w') {
          r.segments = segments;
          if (!/24 of 24 hours from segments/.test(r.line)) throw new Error(`warm run did not use every segment: ${r.line}`);
        }
        if (r.plays !== cfg.plays || r.rows !== groups)
          throw new Error(`reporter counted ${r.plays} plays / ${r.rows} rows, expected ${cfg.plays} / ${groups}`);
        await forget(reportDir); // the next round issues a new v1 again
        results[id].push(r);
        console.log(
          `round ${round + 1} (${id}) reporter${id === 'g' ? ' gzip' : id === 's' ? ' two per-play connections' : ''}: ${fmt.f1(r.seconds)} s, peak RSS ${fmt.int(r.rssMiB)} MiB, ` +
            `files ${fmt.int(r.bytes.daily)} + ${fmt.int(r.bytes.client)} bytes; ${JSON.stringify(r.phases)}`,
        );
      } else if (id === 'b') {
        const r = psqlTimed(db.adminUrl, BARE_AGGREGATE);
        results.b.push(r);
        console.log(`round ${round + 1} (b) bare GROUP BY: ${fmt.f1(r.seconds)} s (psql wall ${fmt.f1(r.wall)} s)`);
      } else if (id === 'c') {
        const r = psqlTimed(db.adminUrl, clientCopy);
        results.c.push(r);
        console.log(`round ${round + 1} (c) client-usage COPY: ${fmt.f1(r.seconds)} s (psql wall ${fmt.f1(r.wall)} s)`);
      } else if (id === 'd') {
        const r = psqlTimed(db.adminUrl, twoLevel);
        results.d.push(r);
        console.log(`round ${round + 1} (d) two-level GROUP BY: ${fmt.f1(r.seconds)} s`);
      } else {
        const r = psqlTimed(db.adminUrl, intFirst);
        results.e.push(r);
        console.log(`round ${round + 1} (e) bare GROUP BY, integer keys first: ${fmt.f1(r.seconds)} s`);
      }
    }
  }

  const phaseNames = [...new Set(results.a.flatMap((r) => Object.keys(r.phases)))];
  const summary = {
    reporter: median(results.a.map((r) => r.seconds)),
    bare: median(results.b.map((r) => r.seconds)),
    clientCopy: median(results.c.map((r) => r.seconds)),
    twoLevel: results.d ? median(results.d.map((r) => r.seconds)) : undefined,
    intFirst: results.e ? median(results.e.map((r) => r.seconds)) : undefined,
    gzip: results.g ? median(results.g.map((r) => r.seconds)) : undefined,
    twoPerPlay: results.s ? median(results.s.map((r) => r.seconds)) : undefined,
    warm: results.w ? median(results.w.map((r) => r.seconds)) : undefined,
    renderAhead: results.w ? median(results.w.map((r) => r.segments.seconds)) : undefined,
    renderAheadCpu: results.w ? median(results.w.map((r) => r.segments.machineCpu)) : undefined,
    rssMiB: Math.max(...results.a.map((r) => r.rssMiB)),
    phases: Object.fromEntries(phaseNames.map((k) => [k, median(results.a.map((r) => r.phases[k] ?? 0))])),
  };
  const ratios = {
    reporterVsBare: summary.reporter / summary.bare,
    perRound: results.a.map((r, i) => r.seconds / results.b[i].seconds),
  };
  ratios.medianOfRatios = median(ratios.perRound);
  const report = {
    cfg,
    day: DAY,
    size,
    groups,
    genSeconds,
    notes,
    results,
    summary,
    ratios,
    totalSeconds: (performance.now() - started) / 1000,
    loadAvgEnd: loadAvgNow(),
  };
  writeFileSync(join(out, 'results.json'), JSON.stringify(report, null, 2));
  const md = markdown(report);
  writeFileSync(join(out, 'results.md'), md);
  console.log(`\n${md}`);
  return 0;
}

function markdown({ cfg: c, summary: s, ratios, results, size, groups, genSeconds, notes, totalSeconds, loadAvgEnd }) {
  const per = (id) => results[id].map((r) => fmt.f1(r.seconds)).join(' / ');
  const cpu = (id) => median(results[id].map((r) => r.machineCpu));
  const cores = cpus().length;
  const a0 = results.a[0];
  const row = (id, what, v) => [what, fmt.f1(v), per(id), fmt.f1(cpu(id))];
  return [
    `${fmt.int(c.plays)} plays on one day for one client (${size} with indexes, generated in ${fmt.f1(genSeconds)} s), ${fmt.int(groups)} daily-usage rows; ` +
      `daily-usage.csv ${fmt.int(a0.bytes.daily / 2 ** 20)} MiB, client-usage.csv ${fmt.int(a0.bytes.client / 2 ** 20)} MiB` +
      (results.g ? ` (client-usage.csv.gz ${fmt.int(results.g[0].bytes.client / 2 ** 20)} MiB)` : '') +
      `. Medians of ${c.rounds} rounds, order rotating. Whole bench ${fmt.f1(totalSeconds)} s.`,
    '',
    table(
      ['what', 'median s', 'per round s', 'machine CPU s'],
      [
        row('a', '(a) reporter run, cold (wall, process start to exit)', s.reporter),
        row('b', '(b) bare GROUP BY (psql \\timing)', s.bare),
        row('c', "(c) the reporter's client-usage query (binary), COPY to /dev/null (psql \\timing)", s.clientCopy),
        ...(results.d ? [row('d', '(d) two-level GROUP BY: keys + user in parallel, then count users (psql \\timing)', s.twoLevel)] : []),
        ...(results.e
          ? [row('e', '(e) bare GROUP BY with integer keys first, as the reporter groups in its exact plan (psql \\timing)', s.intFirst)]
          : []),
        ...(results.w ? [row('w', '(w) reporter run, warm: every hour rendered ahead by `reporter segments`', s.warm)] : []),
        ...(results.g ? [row('g', '(g) reporter run, cold, REPORT_COMPRESS=gzip', s.gzip)] : []),
        ...(results.s
          ? [row('s', '(s) reporter run, cold, REPORT_PER_PLAY_CONNECTIONS=2 (the hours shared out between two connections)', s.twoPerPlay)]
          : []),
      ],
    ),
    '',
    `- reporter / bare GROUP BY: ratio of medians **${fmt.f2(ratios.reporterVsBare)}×**, median of per-round ratios **${fmt.f2(ratios.medianOfRatios)}×** ` +
      `(per round ${ratios.perRound.map(fmt.f2).join(', ')}; goal ≤ 1.5×)`,
    `- machine CPU s: busy CPU time of all ${cores} cores over the step (/proc/stat, medians; every process: Postgres's workers, psql, the reporter). ` +
      `The run's ${fmt.f1(cpu('a'))} CPU-s on ${cores} cores take at least ${fmt.f1(cpu('a') / cores)} s, ${fmt.f2(cpu('a') / cores / s.bare)}× (b).`,
    ...(results.w
      ? [
          `- warm / bare GROUP BY: ratio of medians **${fmt.f2(s.warm / s.bare)}×**, median of per-round ratios ${fmt.f2(median(results.w.map((r, i) => r.seconds / results.b[i].seconds)))}×. ` +
            `The hours were rendered ahead by \`reporter segments\` in ${fmt.f1(s.renderAhead)} s (${fmt.f1(s.renderAheadCpu)} machine CPU-s; the hourly job spreads that over the day).`,
        ]
      : []),
    ...(results.e
      ? [
          `- against (e), the same bare GROUP BY in the reporter's own key order (faster here): cold ${fmt.f2(s.reporter / s.intFirst)}×` +
            (results.w ? `, warm ${fmt.f2(s.warm / s.intFirst)}×` : '') +
            ' (ratios of medians).',
        ]
      : []),
    `- reporter peak RSS (/usr/bin/time -v, max over rounds): **${fmt.int(s.rssMiB)} MiB**`,
    `- reporter process CPU (user+sys, /usr/bin/time -v; median): ${fmt.f1(median(results.a.map((r) => r.cpu)))} s — the rest of its wall time is Postgres working`,
    '',
    "Where the reporter's time goes (its client backends' statements as seen in pg_stat_activity every 20 ms, medians; the client-usage hours run on the per-play connections at the same time as the others, and their seconds are summed over those connections, so shares add up to more than 100 %):",
    '',
    table(
      ['statement', 'median s', 'share of run'],
      Object.entries(s.phases)
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => [k, fmt.f2(v), `${fmt.f1((100 * v) / s.reporter)} %`]),
    ),
    '',
    notes,
    `- Load average at end: ${loadAvgEnd}`,
    '',
  ].join('\n');
}

runMain(main, num('BENCH_DEADLINE_SECONDS', 1800));
