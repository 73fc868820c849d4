// bench/ingest per-play costs: what each step of the bulk route costs one play, in one Node thread, over
// the same 50 000 plays as bench.mjs (tools/loadgen's playGenerator, seed 4242, yesterday's UTC day).
// No server, broker or database: the steps alone, so the floor in RESULTS.md can be computed from them.
// Usage: node bench/ingest/per-play.mjs   (after the workspace is built; ~20 s; writes bench/ingest/out/per-play.md)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBatches, encodePlays, instantKey, normalizePlay, parseDateTime, playHead, playIdentity, readPlay } from '@playlog/schema';
import { playGenerator } from '../../tools/loadgen/dist/plays.js';
import { fmt, median, outDir, table, yesterdayUtc } from '../lib/common.mjs';

const N = 50_000;
const REPS = Number(process.env.BENCH_REPS ?? 9);
const next = playGenerator({ seed: 4242, day: yesterdayUtc(), users: 2000, tracks: 5000 });
const bodies = [];
for (let i = 0; i < N; i += 100) bodies.push(JSON.stringify({ plays: Array.from({ length: 100 }, () => next()) }));
const ctx = { client: 'bench', apiKeyName: 'default', now: Date.now(), clockSkewMs: 300_000 };
const parsed = bodies.flatMap((b) => JSON.parse(b).plays);
// Built only when a step needs them: 50 000 live plays more make every collection dearer (normalizePlay
// measured 3.8 instead of 2.5 µs with them alive), and a server holds only its requests' plays.
const normalized = () => {
  const plays = parsed.map((p) => normalizePlay(p, ctx)).map((r) => (r.ok ? r.play : undefined));
  if (plays.some((p) => p === undefined)) throw new Error('every generated play must be valid');
  return plays;
};

let sink = 0; // results are used, so no step can be optimised away
/**
 * Median µs per play of `REPS` passes over all plays, after one unrecorded pass. `setup` builds the
 * step's input and returns the step; its input is dropped after.
 */
function perPlay(setup) {
  const step = setup();
  step();
  const xs = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = process.hrtime.bigint();
    step();
    xs.push(Number(process.hrtime.bigint() - t0) / 1000 / N);
  }
  return median(xs);
}

const steps = [
  [
    'JSON.parse of the 100-play bodies (the bare route does this too)',
    () => () => bodies.forEach((b) => (sink += JSON.parse(b).plays.length)),
  ],
  [
    'readPlay: field rules and window (what ingest does per play since issue 16)',
    () => () => {
      for (const p of parsed) sink += readPlay(p, ctx).ok ? 1 : 0;
    },
  ],
  [
    'normalizePlay: the same plus the stored play: identity, UTC instant, request fields (before)',
    () => () => {
      for (const p of parsed) sink += normalizePlay(p, ctx).ok ? 1 : 0;
    },
  ],
  [
    '  of which playIdentity (sha256 → UUID)',
    () => {
      const parts = normalized().map((p) => ({
        client: p.client,
        clientPlayId: p.clientPlayId,
        logType: p.logType,
        userId: p.userId,
        trackId: p.trackId,
        instant: instantKey(parseDateTime(p.dateTimePlayed)),
      }));
      return () => parts.forEach((p) => (sink += playIdentity(p).length));
    },
  ],
  [
    'encodeBatches: the Kafka value (format 3) from the checked fields, 100 plays a message (now)',
    () => {
      const head = playHead(ctx);
      const checked = parsed.map((p) => readPlay(p, ctx).play);
      return () => {
        for (let i = 0; i < N; i += 100) sink += encodeBatches([{ head, plays: checked.slice(i, i + 100) }]).length;
      };
    },
  ],
  [
    'encodePlays: the same value from stored plays (before)',
    () => {
      const plays = normalized();
      return () => {
        for (let i = 0; i < N; i += 100) sink += encodePlays(plays.slice(i, i + 100)).length;
      };
    },
  ],
];
const rows = steps.map(([what, setup]) => [what, perPlay(setup)]);

const md = [
  `Per play, one Node ${process.version} thread, ${fmt.int(N)} plays, median of ${REPS} passes (bench/ingest/per-play.mjs):`,
  '',
  table(
    ['step', 'µs per play'],
    rows.map(([what, us]) => [what, us.toFixed(2)]),
  ),
  '',
].join('\n');
const out = outDir('ingest');
writeFileSync(join(out, 'per-play.md'), md);
console.log(md);
if (sink === 0) throw new Error('nothing measured');
