// bench/loader/copy-formats.mjs (issue 31): what the COPY format costs the loader and Postgres. The same
// N plays are written into a fresh `plays` table in batches as the loader writes them (one transaction a
// batch, one connection, TLS as the loader's role), rendered as CSV (playCsvLine, what the loader sent
// before) and as binary COPY (playsCopyBinary, what it sends now); rounds alternate. Figures: the wall
// time, the client's CPU to render the rows, and the backend's CPU (/proc of pg_backend_pid()).
// Usage: bash bench/lib/run-bench.sh loader/copy-formats
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { databaseUrlAs } from '@playlog/config';
import { PLAY_COLUMNS, playCsvLine } from '@playlog/db';
import { normalizePlay } from '@playlog/schema';
import { playsCopyBinary } from '../../libs/db/dist/copy-binary.js';
import { playGenerator } from '../../tools/loadgen/dist/plays.js';
import {
  cpuSeconds,
  dropDatabase,
  fmt,
  freshDatabase,
  machineNotes,
  median,
  outDir,
  runMain,
  table,
  yesterdayUtc,
} from '../lib/common.mjs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const cfg = { plays: num('BENCH_PLAYS', 500_000), batch: num('BENCH_BATCH', 5_000), rounds: num('BENCH_ROUNDS', 3) };
const COLUMNS = PLAY_COLUMNS.join(',');

const render = {
  csv: (plays) => {
    let s = '';
    for (const p of plays) s += playCsvLine(p);
    return Buffer.from(s, 'utf8');
  },
  binary: (plays) => playsCopyBinary(plays),
};
const format = { csv: 'csv', binary: 'binary' };

async function run(kind, batches, days) {
  const db = await freshDatabase(`bench_copy_${kind}`);
  const client = new pg.Client({ connectionString: databaseUrlAs('loader', db.url) });
  await client.connect();
  try {
    await client.query('select ensure_play_partition(d::date) from unnest($1::text[]) as d', [days]);
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
    const backend0 = cpuSeconds(pid);
    const cpu0 = process.cpuUsage();
    let renderSeconds = 0;
    const t0 = performance.now();
    for (const plays of batches) {
      const r0 = performance.now();
      const body = render[kind](plays);
      renderSeconds += (performance.now() - r0) / 1000;
      await client.query('begin');
      const stream = client.query(copyStreams.from(`copy plays (${COLUMNS}) from stdin with (format ${format[kind]})`));
      await pipeline(Readable.from([body]), stream);
      await client.query('commit');
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const backend = cpuSeconds(pid) - backend0;
    const rows = Number((await client.query('select count(*) as n from plays')).rows[0].n);
    if (rows !== cfg.plays) throw new Error(`${kind}: ${rows} rows stored, expected ${cfg.plays}`);
    return { seconds, clientCpu: (cpu.user + cpu.system) / 1e6, renderSeconds, backend };
  } finally {
    await client.end();
    await dropDatabase(db.name);
  }
}

async function main() {
  const notes = await machineNotes();
  console.log(`bench/loader/copy-formats: ${JSON.stringify(cfg)}\n${notes}`);
  const next = playGenerator({ seed: 5151, day: yesterdayUtc(), users: 50_000, tracks: 20_000 });
  const now = Date.now();
  const seen = new Set();
  const plays = [];
  while (plays.length < cfg.plays) {
    const n = normalizePlay(next(), { client: 'bench', apiKeyName: 'default', now, clockSkewMs: 300_000 });
    if (!n.ok || seen.has(n.play.playId)) continue;
    seen.add(n.play.playId);
    plays.push(n.play);
  }
  const days = [...new Set(plays.map((p) => p.playedAt.slice(0, 10)))];
  const batches = [];
  for (let i = 0; i < plays.length; i += cfg.batch) batches.push(plays.slice(i, i + cfg.batch));
  const results = { csv: [], binary: [] };
  for (let round = 0; round < cfg.rounds; round++) {
    for (const kind of round % 2 ? ['binary', 'csv'] : ['csv', 'binary']) {
      const r = await run(kind, batches, days);
      results[kind].push(r);
      console.log(
        `round ${round + 1} ${kind}: ${fmt.f1(r.seconds)} s, backend ${fmt.f1(r.backend)} s CPU, client ${fmt.f1(r.clientCpu)} s CPU (rendering ${fmt.f1(r.renderSeconds)} s)`,
      );
    }
  }
  const us = (s) => fmt.f2((s / cfg.plays) * 1e6);
  const med = (kind, f) => median(results[kind].map(f));
  const ratio = (f) => results.binary.map((r, i) => f(r) / f(results.csv[i]));
  const md = [
    `${fmt.int(cfg.plays)} plays in batches of ${cfg.batch}, one transaction each, one connection (TLS, the loader's role); medians of ${cfg.rounds} rounds, order alternating.`,
    '',
    table(
      ['format', 'wall s', 'rows/s', 'backend CPU µs/row', 'client CPU µs/row', 'of which rendering µs/row'],
      ['csv', 'binary'].map((k) => [
        k,
        fmt.f1(med(k, (r) => r.seconds)),
        fmt.int(cfg.plays / med(k, (r) => r.seconds)),
        us(med(k, (r) => r.backend)),
        us(med(k, (r) => r.clientCpu)),
        us(med(k, (r) => r.renderSeconds)),
      ]),
    ),
    '',
    `- binary/csv backend CPU: ratio of medians ${fmt.f3(med('binary', (r) => r.backend) / med('csv', (r) => r.backend))}, median of per-round ratios ${fmt.f3(median(ratio((r) => r.backend)))}`,
    `- binary/csv wall: ratio of medians ${fmt.f3(med('binary', (r) => r.seconds) / med('csv', (r) => r.seconds))}, median of per-round ratios ${fmt.f3(median(ratio((r) => r.seconds)))}`,
    '',
    notes,
    '',
  ].join('\n');
  writeFileSync(join(outDir('loader'), 'copy-formats.md'), md);
  console.log(`\n${md}`);
  return 0;
}

runMain(main, num('BENCH_DEADLINE_SECONDS', 900));
