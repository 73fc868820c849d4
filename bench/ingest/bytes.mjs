// bench/ingest/bytes (issue 16): bytes per play on the plays topic, message format 2 (the previous
// ingest's) against format 3 (what ingest writes now), side by side in one run, on the real broker.
// The same plays for every variant: tools/loadgen's realistic plays, normalised as ingest does, cut into
// 100-play requests whose messages ingest's own playMessages() builds, written by libs/kafka's
// DurableProducer (ingest's producer: acks=all, idempotence, linger 1 ms) with 32 requests in flight.
// Bytes = the topic's log segment files in the broker's data directory (one replica), divided by plays.
// Also: encode and decode CPU per play of each format (median of 5 passes over all messages), and this
// process's CPU while producing each variant (librdkafka's compression and protocol threads included).
// A candidate beside them: the request's own bytes as the value (what a format 4 forwarding the
// validated body with the shared fields in a header would write).
// Usage: bash bench/lib/run-bench.sh ingest/bytes   (settings: BENCH_* below)
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { DurableProducer } from '@playlog/kafka';
import { decodePlays, normalizePlay } from '@playlog/schema';
import { playMessages } from '../../apps/ingest/dist/publish.js';
import { playGenerator } from '../../tools/loadgen/dist/plays.js';
import { fmt, freshTopic, machineNotes, median, outDir, REPO, runMain, stack, table, yesterdayUtc } from '../lib/common.mjs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const cfg = {
  plays: num('BENCH_PLAYS', 100_000),
  perRequest: num('BENCH_PER_REQUEST', 100),
  inFlight: num('BENCH_IN_FLIGHT', 32),
  rounds: num('BENCH_ROUNDS', 3),
  users: num('BENCH_USERS', 2_000), // bench/ingest's and bench/capacity's population
  tracks: num('BENCH_TRACKS', 5_000),
};
const DATA_DIR = join(process.env.PLAYLOG_STACK_DIR ?? join(REPO, '.stack'), 'kafka', 'data');
const zstd = Kafka.features.includes('zstd');

/** Format 2, as the previous ingest wrote it: the plays as objects. */
const encodeV2 = (plays) => Buffer.from(JSON.stringify({ v: 2, plays }), 'utf8');

const variants = [
  { id: 'v2-lz4', what: 'format 2 (previous), lz4', format: 2, codec: 'lz4' },
  { id: 'v3-lz4', what: 'format 3 (now), lz4', format: 3, codec: 'lz4' },
  ...(zstd
    ? [
        { id: 'v2-zstd', what: 'format 2, zstd', format: 2, codec: 'zstd' },
        { id: 'v3-zstd', what: 'format 3, zstd', format: 3, codec: 'zstd' },
        { id: 'raw-zstd', what: "the request's bytes forwarded (a format-4 candidate), zstd", format: 'raw', codec: 'zstd' },
      ]
    : []),
];

function topicBytes(topic) {
  let bytes = 0;
  for (const d of readdirSync(DATA_DIR)) {
    if (!d.startsWith(`${topic}-`) || !/-\d+$/.test(d)) continue;
    for (const f of readdirSync(join(DATA_DIR, d))) if (f.endsWith('.log')) bytes += statSync(join(DATA_DIR, d, f)).size;
  }
  return bytes;
}

/** Writes every request's messages with `inFlight` requests outstanding, as 32 connections would. */
async function write(variant, requests) {
  const topic = await freshTopic('plays', 6);
  const producer = new DurableProducer({
    cluster: stack.kafka,
    clientId: `bench-bytes-${variant.id}`,
    lingerMs: 1,
    log: pino({ level: 'silent' }),
    registry: new Registry(),
    config: { 'compression.type': variant.codec },
  });
  await producer.connect();
  const cpu0 = process.cpuUsage();
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const messages = requests[next++][variant.format];
      await producer.send(topic, messages);
    }
  };
  await Promise.all(Array.from({ length: cfg.inFlight }, worker));
  const cpu = process.cpuUsage(cpu0);
  await producer.close();
  const bytes = topicBytes(topic);
  if (bytes === 0) throw new Error(`no segment bytes for ${topic} under ${DATA_DIR}`);
  // Producing CPU of this process (the JS thread and librdkafka's threads: compression, protocol).
  return { bytes, produceUs: (cpu.user + cpu.system) / cfg.plays };
}

function cpuPerPlay(fn) {
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    fn();
    runs.push(((performance.now() - t0) * 1000) / cfg.plays);
  }
  return median(runs);
}

async function main() {
  const notes = await machineNotes();
  console.log(
    `bench/ingest bytes: ${JSON.stringify(cfg)}; librdkafka ${Kafka.librdkafkaVersion}, zstd ${zstd ? 'available' : 'NOT built in'}`,
  );
  const day = yesterdayUtc();
  const ctx = { client: 'bench', apiKeyName: 'default', now: Date.parse(`${day}T23:59:59Z`) + 3_600_000, clockSkewMs: 300_000 };
  const next = playGenerator({ seed: 4242, day, users: cfg.users, tracks: cfg.tracks });
  const plays = [];
  const sent = []; // the plays as the client sent them
  while (plays.length < cfg.plays) {
    const item = next();
    const r = normalizePlay(item, ctx);
    if (!r.ok) throw new Error(`loadgen play refused: ${r.error.message}`);
    plays.push(r.play);
    sent.push(item);
  }
  // Each request's messages in both formats: format 3 through ingest's own playMessages.
  const requests = [];
  for (let i = 0; i < plays.length; i += cfg.perRequest) {
    const chunk = plays.slice(i, i + cfg.perRequest);
    const v3 = playMessages([{ head: chunk[0], plays: chunk }], 500);
    const v2 = v3.map((m, j) => ({ ...m, value: encodeV2(chunk.slice(j * 500, (j + 1) * 500)) }));
    // The request body itself as the value, what a request's plays share in a header.
    const head = { client: ctx.client, apiKeyName: ctx.apiKeyName, receivedAt: chunk[0].receivedAt, synthetic: false };
    const raw = [
      {
        key: v3[0].key,
        value: Buffer.from(JSON.stringify({ plays: sent.slice(i, i + cfg.perRequest) }), 'utf8'),
        weight: chunk.length,
        headers: [...v3[0].headers, { 'playlog-head': JSON.stringify(head) }],
      },
    ];
    requests.push({ 2: v2, 3: v3, raw });
  }
  const valueBytes = (f) => requests.reduce((s, r) => s + r[f].reduce((a, m) => a + m.value.length, 0), 0) / cfg.plays;

  const results = Object.fromEntries(variants.map((v) => [v.id, []]));
  const produceCpu = Object.fromEntries(variants.map((v) => [v.id, []]));
  for (let round = 0; round < cfg.rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const { bytes, produceUs } = await write(v, requests);
      results[v.id].push(bytes / cfg.plays);
      produceCpu[v.id].push(produceUs);
      console.log(
        `round ${round + 1} ${v.id}: ${fmt.f1(bytes / cfg.plays)} B/play on the topic, producing ${fmt.f2(produceUs)} µs CPU a play`,
      );
    }
  }
  const all2 = requests.flatMap((r) => r[2]);
  const all3 = requests.flatMap((r) => r[3]);
  const cpu = {
    encode2: cpuPerPlay(() => {
      for (let i = 0; i < plays.length; i += cfg.perRequest) encodeV2(plays.slice(i, i + cfg.perRequest));
    }),
    encode3: cpuPerPlay(() => {
      for (let i = 0; i < plays.length; i += cfg.perRequest) {
        const chunk = plays.slice(i, i + cfg.perRequest);
        playMessages([{ head: chunk[0], plays: chunk }], 500);
      }
    }),
    decode2: cpuPerPlay(() => all2.forEach((m) => decodePlays(m.value))),
    decode3: cpuPerPlay(() => all3.forEach((m) => decodePlays(m.value))),
  };
  // The decoded plays are the same whatever the format.
  const ids = (ms) => ms.flatMap((m) => decodePlays(m.value).plays.map((p) => `${p.playId}|${p.playedAt}`)).join();
  if (ids(all2) !== ids(all3)) throw new Error('format 3 decodes to other plays than format 2');

  const med = Object.fromEntries(variants.map((v) => [v.id, median(results[v.id])]));
  const ratio = (a, b) => ({
    ofMedians: med[a] / med[b],
    perRound: results[a].map((x, i) => x / results[b][i]),
  });
  const vs = variants.filter((v) => v.id !== 'v2-lz4').map((v) => [v, ratio(v.id, 'v2-lz4')]);
  const md = [
    `${fmt.int(cfg.plays)} realistic plays (tools/loadgen, seed 4242, ${fmt.int(cfg.users)} users, ${fmt.int(cfg.tracks)} tracks), ` +
      `requests of ${cfg.perRequest}, ${cfg.inFlight} in flight; medians of ${cfg.rounds} rounds, order alternating. ` +
      `Value bytes before compression: format 2 ${fmt.f1(valueBytes(2))} B/play, format 3 ${fmt.f1(valueBytes(3))} B/play.`,
    '',
    table(
      [
        'variant',
        'B/play on the topic (median)',
        'per round',
        'vs format 2 lz4: ratio of medians',
        'median of per-round ratios',
        'value B/play before compression',
        'producing, µs CPU a play (median)',
      ],
      variants.map((v) => {
        const r = v.id === 'v2-lz4' ? undefined : ratio(v.id, 'v2-lz4');
        return [
          v.what,
          fmt.f1(med[v.id]),
          results[v.id].map(fmt.f1).join(' / '),
          r ? `${fmt.f2(r.ofMedians)}×` : '1',
          r ? `${fmt.f2(median(r.perRound))}×` : '1',
          fmt.f1(valueBytes(v.format)),
          fmt.f2(median(produceCpu[v.id])),
        ];
      }),
    ),
    '',
    `CPU per play (µs, median of 5 passes over all ${fmt.int(cfg.plays)} plays, one thread): encode format 2 ${fmt.f2(cpu.encode2)}, ` +
      `format 3 ${fmt.f2(cpu.encode3)} (ingest); decode format 2 ${fmt.f2(cpu.decode2)}, format 3 ${fmt.f2(cpu.decode3)} ` +
      '(loader; format 3 recomputes playId and playedAt, and every decoded play is schema-checked in both).',
    ...(zstd ? [] : ['', 'zstd: this build of librdkafka has no zstd (node-rdkafka built without libzstd-dev), so it was not measured.']),
    '',
    notes,
    '',
  ].join('\n');
  const out = outDir('ingest');
  writeFileSync(join(out, 'bytes.md'), md);
  writeFileSync(
    join(out, 'bytes.json'),
    JSON.stringify({ cfg, results, produceCpu, med, cpu, vs: vs.map(([v, r]) => ({ id: v.id, ...r })) }, null, 2),
  );
  console.log(`\n${md}`);
  return 0;
}

runMain(main, num('BENCH_DEADLINE_SECONDS', 900));
