// bench/ingest (issue 4): Playlog's ingest routes against bare Fastify baselines, over the same plays,
// then an overload check whose accepted plays are verified by id on the Kafka topic.
// Usage: bash bench/ingest/run.sh   (settings: BENCH_* environment variables, see `cfg` below)
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { kafkaClientConfig } from '@playlog/config';
import { normalizePlay } from '@playlog/schema';
import { playGenerator } from '../../tools/loadgen/dist/plays.js';
import {
  brokerPid,
  REPO,
  cpuSeconds,
  fmt,
  freePort,
  freshDatabase,
  freshTopic,
  loadAvgNow,
  machineCpuSeconds,
  machineNotes,
  median,
  outDir,
  rssSampler,
  runMain,
  runSync,
  stack,
  startProcess,
  table,
  waitHttp,
  yesterdayUtc,
} from '../lib/common.mjs';
import { readTopicPlayIds } from '../lib/kafka.mjs';
import { createKey, ingestBodies, startIngest, V12_PATH } from './targets.mjs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const cfg = {
  duration: num('BENCH_DURATION', 10), // seconds per measured run
  warmup: num('BENCH_WARMUP', 3), // seconds of unrecorded load per target before round 1
  rounds: num('BENCH_ROUNDS', 3),
  batch: num('BENCH_BATCH', 100), // plays per bulk request
  bulkConnections: num('BENCH_BULK_CONNECTIONS', 32),
  v12Connections: num('BENCH_V12_CONNECTIONS', 128),
  pool: num('BENCH_POOL_PLAYS', 50_000), // distinct plays cycled through in the throughput runs
  overloadSeconds: num('BENCH_OVERLOAD_SECONDS', 15),
  overloadBatch: num('BENCH_OVERLOAD_BATCH', 500),
  overloadSockets: num('BENCH_OVERLOAD_SOCKETS', 1024),
  overloadFactor: num('BENCH_OVERLOAD_FACTOR', 3),
  seed: num('BENCH_SEED', 4242),
};
const DAY = yesterdayUtc(); // deterministic plays, all inside the accepted window
/** The ingest principal's Kafka client settings as environment variables (the seed-style peer connects as ingest does). */
const asIngest = Object.fromEntries(
  Object.entries(kafkaClientConfig('ingest').settings).map(([k, v]) => [`KAFKA_${k.toUpperCase().replaceAll('.', '_')}`, v]),
);
const CLIENT = 'bench';
let overloadRuns = 0;

function cannon(opts) {
  return new Promise((res, rej) => autocannon(opts, (err, r) => (err ? rej(err) : res(r))));
}

/** One fixed-connection, fixed-duration run against `target` (a started process), cycling through bodies. */
async function measure(label, target, { url, connections, bodies, headers, playsPerRequest, duration }) {
  let i = 0;
  const sampler = rssSampler(target.pid, 100);
  const cpu0 = cpuSeconds(target.pid);
  const broker = brokerPid();
  const broker0 = broker && cpuSeconds(broker);
  const machine0 = machineCpuSeconds();
  const self0 = process.cpuUsage();
  const r = await cannon({
    url,
    method: 'POST',
    connections,
    duration,
    timeout: 30,
    headers,
    requests: [
      {
        setupRequest: (req) => {
          req.body = bodies[i++ % bodies.length];
          return req;
        },
      },
    ],
  });
  const rss = sampler.stop();
  const rssOne = sampler.maxProcessMiB();
  const cpu = cpuSeconds(target.pid) - cpu0;
  const brokerCpu = broker ? cpuSeconds(broker) - broker0 : Number.NaN;
  const machineCpu = machineCpuSeconds() - machine0;
  const self = process.cpuUsage(self0);
  const ok = r['2xx'];
  return {
    label,
    connections,
    reqPerSec: ok / r.duration,
    eventsPerSec: (ok * playsPerRequest) / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    rssMiB: rss,
    rssOneProcessMiB: rssOne,
    serverCpuPerSec: cpu / r.duration,
    loadgenCpuPerSec: (self.user + self.system) / 1e6 / r.duration,
    brokerCpuPerSec: brokerCpu / r.duration,
    machineCpuPerSec: machineCpu / r.duration,
    duration: r.duration,
  };
}

/**
 * The seed-style peer (bench/ingest/peer/app.py) under gunicorn with 2 workers, its packages installed
 * from PyPI into bench/out/peer-venv on first use.
 */
async function startPeer(topic) {
  const venv = join(REPO, 'bench', 'out', 'peer-venv');
  if (!existsSync(join(venv, 'bin', 'gunicorn'))) {
    console.log('bench: installing the seed-style peer (Flask, gunicorn, jsonschema, confluent-kafka) from PyPI');
    runSync('python3', ['-m', 'venv', venv]);
    runSync(join(venv, 'bin', 'pip'), ['install', '-q', '-r', join(REPO, 'bench', 'ingest', 'peer', 'requirements.txt')]);
  }
  const port = await freePort();
  const proc = startProcess(
    join(venv, 'bin', 'gunicorn'),
    ['-w', '2', '-b', `127.0.0.1:${port}`, '--chdir', 'bench/ingest/peer', 'app:app'],
    {
      env: { KAFKA_BROKERS: stack.brokers, KAFKA_TOPIC: topic, ...asIngest },
    },
  );
  await waitHttp(`http://127.0.0.1:${port}/healthz`, 30_000, proc);
  return { proc, base: `http://127.0.0.1:${port}` };
}

/**
 * One POST over a keep-alive agent; resolves with the status (or 'timeout'/'error') and the body of a 207.
 */
function safeCode(body) {
  try {
    return JSON.parse(body).code ?? '';
  } catch {
    return '';
  }
}

function post(agent, url, headers, body, timeoutMs) {
  return new Promise((res) => {
    const t0 = performance.now();
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': body.length } }, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () =>
        res({
          status: resp.statusCode,
          body: resp.statusCode === 200 || resp.statusCode === 202 ? '' : Buffer.concat(chunks).toString(),
          ms: performance.now() - t0,
        }),
      );
      resp.on('error', (e) => res({ status: `error ${e.code ?? e.message}`, ms: performance.now() - t0 }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (e) =>
      res({ status: e.message === 'timeout' ? 'timeout' : `error ${e.code ?? e.message}`, ms: performance.now() - t0 }),
    );
    req.end(body);
  });
}

/**
 * Overload, open loop: `rate` requests/s of B unique plays each (body k = plays k·B … k·B+B-1 of a seeded
 * generator, made before the run), sent on schedule whether or not earlier ones were answered (up to
 * cfg.overloadSockets connections; beyond that requests wait in the client). Afterwards every play of
 * every 2xx'd body must be on the topic.
 */
async function overload(label, ingestEnv, key, rate, out) {
  const B = cfg.overloadBatch;
  const nBodies = Math.ceil(rate * cfg.overloadSeconds) + 1;
  const seed = cfg.seed + 1 + overloadRuns++; // each overload run sends plays no other run sent
  const gen = playGenerator({ seed, day: DAY, users: 2000, tracks: 5000 });
  const bodies = Array.from({ length: nBodies }, () => Buffer.from(JSON.stringify({ plays: Array.from({ length: B }, () => gen()) })));
  const topic = await freshTopic('plays');
  const logFile = join(out, `ingest-${label}.log`);
  const { proc, base, metrics } = await startIngest({ ...ingestEnv, KAFKA_TOPIC: topic }, { logFile });
  const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.overloadSockets });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const url = `${base}/v1/play-logs`;
  const accepted = new Map(); // body index -> indexes of plays accepted (null: all)
  const statusCodes = {};
  const latencies = [];
  const pending = [];
  let maxOutstanding = 0;
  let outstanding = 0;
  const sampler = rssSampler(proc.pid, 100);
  const gauges = { maxInFlight: 0, maxLoopLagMs: 0 };
  // Ingest's metrics port (not the API's): with workers, the primary's sum over them (prom-client's
  // AggregatorRegistry; the event-loop lag gauge is their average).
  let metricsSeen = 0;
  const metricsPoll = setInterval(() => {
    fetch(metrics)
      .then((m) => m.text())
      .then((t) => {
        const inFlight = Number(/^playlog_kafka_producer_in_flight_plays (\S+)/m.exec(t)?.[1] ?? 0);
        const lag = Number(/^nodejs_eventloop_lag_max_seconds (\S+)/m.exec(t)?.[1] ?? 0) * 1000;
        gauges.maxInFlight = Math.max(gauges.maxInFlight, inFlight);
        gauges.maxLoopLagMs = Math.max(gauges.maxLoopLagMs, lag);
        gauges.queueFull = Number(/^playlog_kafka_delivery_failures_total\{reason="queue_full"\} (\S+)/m.exec(t)?.[1] ?? 0);
        if (/^playlog_kafka_producer_in_flight_plays /m.test(t)) metricsSeen++;
      })
      .catch(() => undefined);
  }, 500);
  const started = performance.now();
  let sent = 0;
  while (sent < nBodies) {
    const due = Math.min(nBodies, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const b = sent;
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      pending.push(
        post(agent, url, headers, bodies[b], 30_000).then((r) => {
          outstanding--;
          const code = r.status >= 400 ? ` ${safeCode(r.body)}` : '';
          statusCodes[`${r.status}${code}`] = (statusCodes[`${r.status}${code}`] ?? 0) + 1;
          if (typeof r.status === 'number') latencies.push(r.ms);
          if (r.status === 202) accepted.set(b, null);
          else if (r.status === 207) {
            const bad = new Set(JSON.parse(r.body).errors.map((e) => e.index));
            accepted.set(
              b,
              Array.from({ length: B }, (_, j) => j).filter((j) => !bad.has(j)),
            );
          }
        }),
      );
    }
    await sleep(10);
  }
  const sendSeconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(metricsPoll);
  if (metricsSeen === 0) throw new Error(`overload ${label}: no sample of ingest's metrics from ${metrics}`);
  agent.destroy();
  const aliveAfterLoad = proc.running();
  const rss = sampler.stop();
  const rssOne = sampler.maxProcessMiB();
  const exit = await proc.stop('SIGTERM');
  latencies.sort((x, y) => x - y);
  const pct = (q) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]) : NaN);
  const r = {
    statusCodeStats: Object.fromEntries(Object.entries(statusCodes).map(([c, n]) => [c, { count: n }])),
    errors: 0,
    timeouts: statusCodes.timeout ?? 0,
    latency: { p50: pct(0.5), p99: pct(0.99) },
  };
  const k = sent;

  // The ids of the accepted plays, recomputed from the same seeded sequence.
  const regen = playGenerator({ seed, day: DAY, users: 2000, tracks: 5000 });
  const ctx = { client: CLIENT, apiKeyName: 'default', now: Date.now(), clockSkewMs: 300_000 };
  const acceptedIds = new Set();
  for (let b = 0; b < nBodies; b++) {
    const plays = Array.from({ length: B }, () => regen());
    if (!accepted.has(b)) continue;
    const which = accepted.get(b) ?? plays.map((_, j) => j);
    for (const j of which) {
      const n = normalizePlay(plays[j], ctx);
      if (!n.ok) throw new Error(`generated play not valid: ${n.error.message}`);
      acceptedIds.add(n.play.playId);
    }
  }
  const onTopic = await readTopicPlayIds(topic);
  let missing = 0;
  for (const id of acceptedIds) if (!onTopic.ids.has(id)) missing++;
  return {
    label,
    env: ingestEnv,
    rate,
    connections: cfg.overloadSockets,
    batch: B,
    seconds: elapsed,
    sendSeconds,
    requestsSent: k,
    maxOutstanding,
    gauges,
    offeredPlaysPerSec: (k * B) / sendSeconds,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([c, v]) => [c, v.count])),
    errors: r.errors,
    timeouts: r.timeouts,
    p50: r.latency.p50,
    p99: r.latency.p99,
    acceptedRequests: accepted.size,
    acceptedPlays: acceptedIds.size,
    acceptedPlaysPerSec: acceptedIds.size / elapsed,
    messagesOnTopic: onTopic.count,
    playsOnTopic: onTopic.plays,
    distinctPlaysOnTopic: onTopic.ids.size,
    acceptedMissingFromKafka: missing,
    rssMiB: rss,
    rssOneProcessMiB: rssOne,
    aliveAfterLoad,
    exit,
  };
}

async function main() {
  const out = outDir('ingest');
  const notes = await machineNotes();
  console.log(`bench/ingest: ${JSON.stringify(cfg)}\n${notes}`);

  const db = await freshDatabase('bench_ingest');
  const key = createKey(db.url, CLIENT);
  const topic = await freshTopic('plays');
  const { bulk, v12 } = ingestBodies({ seed: cfg.seed, day: DAY, pool: cfg.pool, batch: cfg.batch });
  console.log(`plays: ${cfg.pool} (${bulk.length} bulk bodies of ${cfg.batch}, ${v12.length} single-item bodies), day ${DAY}`);

  // Throughput runs measure capacity: the per-client rate limit (default 50 000 plays/s) is switched off.
  // Request logs at the default level (info) are written, to /dev/null.
  const ingestEnv = { DATABASE_URL: db.url, KAFKA_TOPIC: topic, CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0' };
  const ingest = await startIngest(ingestEnv);
  // The same ingest as one process (INGEST_WORKERS=1), like for like with the one-process bare server:
  // on this 2-core machine two workers share the cores with autocannon and the broker (see RESULTS.md).
  const ingestOne = await startIngest({ ...ingestEnv, INGEST_WORKERS: '1' });
  // The same ingest as (a) over the private stack's plaintext listener, without authentication: what TLS
  // and authentication to Kafka cost it (issue 27). Only on the private stack, which has that listener.
  const ingestPlain =
    stack.plaintext && (await startIngest({ ...ingestEnv, KAFKA_BROKERS: stack.plaintext.brokers, KAFKA_SECURITY_PROTOCOL: 'plaintext' }));
  const peer = await startPeer(await freshTopic('plays'));
  const barePort = await freePort();
  const bare = startProcess('node', ['bench/ingest/bare-server.mjs'], { env: { PORT: String(barePort) } });
  const bareBase = `http://127.0.0.1:${barePort}`;
  await waitHttp(`${bareBase}/healthz`, 15_000, bare);

  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const scenarios = {
    a: {
      label: '(a) ingest bulk',
      proc: ingest.proc,
      url: `${ingest.base}/v1/play-logs`,
      connections: cfg.bulkConnections,
      bodies: bulk,
      plays: cfg.batch,
    },
    a1: {
      label: '(a1) ingest bulk, 1 process',
      proc: ingestOne.proc,
      url: `${ingestOne.base}/v1/play-logs`,
      connections: cfg.bulkConnections,
      bodies: bulk,
      plays: cfg.batch,
    },
    ...(ingestPlain
      ? {
          ap: {
            label: '(ap) ingest bulk, Kafka over plaintext without authentication',
            proc: ingestPlain.proc,
            url: `${ingestPlain.base}/v1/play-logs`,
            connections: cfg.bulkConnections,
            bodies: bulk,
            plays: cfg.batch,
          },
        }
      : {}),
    b: {
      label: '(b) bare bulk + TypeBox',
      proc: bare,
      url: `${bareBase}/v1/play-logs`,
      connections: cfg.bulkConnections,
      bodies: bulk,
      plays: cfg.batch,
    },
    c: {
      label: '(c) ingest 7digital 1-item',
      proc: ingest.proc,
      url: `${ingest.base}${V12_PATH}`,
      connections: cfg.v12Connections,
      bodies: v12,
      plays: 1,
    },
    c1: {
      label: '(c1) ingest 7digital 1-item, 1 process',
      proc: ingestOne.proc,
      url: `${ingestOne.base}${V12_PATH}`,
      connections: cfg.v12Connections,
      bodies: v12,
      plays: 1,
    },
    d: { label: '(d) bare POST 200', proc: bare, url: `${bareBase}${V12_PATH}`, connections: cfg.v12Connections, bodies: v12, plays: 1 },
    e: {
      label: '(e) seed-style peer: Flask, gunicorn 2 workers, jsonschema, confluent-kafka acks=all',
      proc: peer.proc,
      url: `${peer.base}/v1/play-logs`,
      connections: cfg.bulkConnections,
      bodies: bulk,
      plays: cfg.batch,
    },
  };
  const run = (id, duration) =>
    measure(scenarios[id].label, scenarios[id].proc, {
      url: scenarios[id].url,
      connections: scenarios[id].connections,
      bodies: scenarios[id].bodies,
      headers,
      playsPerRequest: scenarios[id].plays,
      duration,
    });

  const ids = ['a', ...(ingestPlain ? ['ap'] : []), 'a1', 'b', 'c', 'c1', 'd', 'e'];
  for (const id of ids) await run(id, cfg.warmup);
  const results = Object.fromEntries(ids.map((id) => [id, []]));
  const orders = [ids, [...ids].reverse()];
  for (let round = 0; round < cfg.rounds; round++) {
    for (const id of orders[round % 2]) {
      const r = await run(id, cfg.duration);
      results[id].push(r);
      console.log(
        `round ${round + 1} ${r.label}: ${fmt.int(r.reqPerSec)} req/s, ${fmt.int(r.eventsPerSec)} events/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ` +
          `non-2xx ${r.non2xx}, errors ${r.errors}, RSS ${fmt.int(r.rssMiB)} MiB, server CPU ${fmt.f2(r.serverCpuPerSec)} cores, loadgen CPU ${fmt.f2(r.loadgenCpuPerSec)}`,
      );
      if (!ingest.proc.running() || !ingestOne.proc.running()) throw new Error('ingest exited during the throughput runs');
    }
  }
  await bare.stop();
  await peer.proc.stop();
  await ingest.proc.stop();
  await ingestOne.proc.stop();
  if (ingestPlain) await ingestPlain.proc.stop();

  const med = (id, f) => median(results[id].map((r) => r[f]));
  const summary = Object.fromEntries(
    Object.keys(results).map((id) => [
      id,
      {
        label: scenarios[id].label,
        connections: scenarios[id].connections,
        reqPerSec: med(id, 'reqPerSec'),
        eventsPerSec: med(id, 'eventsPerSec'),
        p50: med(id, 'p50'),
        p99: med(id, 'p99'),
        peakRssMiB: Math.max(...results[id].map((r) => r.rssMiB)),
        serverCpu: med(id, 'serverCpuPerSec'),
        loadgenCpu: med(id, 'loadgenCpuPerSec'),
        brokerCpu: med(id, 'brokerCpuPerSec'),
        machineCpu: med(id, 'machineCpuPerSec'),
        non2xx: results[id].reduce((s, r) => s + r.non2xx + r.errors, 0),
      },
    ]),
  );
  const perRound = (x, y) => results[x].map((r, i) => r.eventsPerSec / results[y][i].eventsPerSec);
  const ratios = {
    bulk: summary.a.eventsPerSec / summary.b.eventsPerSec,
    bulkPerRound: perRound('a', 'b'),
    v12: summary.c.eventsPerSec / summary.d.eventsPerSec,
    v12PerRound: perRound('c', 'd'),
    peer: summary.a.eventsPerSec / summary.e.eventsPerSec,
    peerPerRound: perRound('a', 'e'),
    cpuVsBare: summary.a.eventsPerSec / summary.a.serverCpu / (summary.b.eventsPerSec / summary.b.serverCpu),
    cpuPerRound: results.a.map((r, i) => r.eventsPerSec / r.serverCpuPerSec / (results.b[i].eventsPerSec / results.b[i].serverCpuPerSec)),
    cpuOneVsBare: summary.a1.eventsPerSec / summary.a1.serverCpu / (summary.b.eventsPerSec / summary.b.serverCpu),
    cpuOnePerRound: results.a1.map(
      (r, i) => r.eventsPerSec / r.serverCpuPerSec / (results.b[i].eventsPerSec / results.b[i].serverCpuPerSec),
    ),
    v12One: summary.c1.eventsPerSec / summary.d.eventsPerSec,
    v12OnePerRound: perRound('c1', 'd'),
  };
  if (summary.ap) {
    // Issue 27: bulk plays per ingest CPU-second over TLS (a) against plaintext (ap), same run.
    ratios.tlsPerCpu = summary.a.eventsPerSec / summary.a.serverCpu / (summary.ap.eventsPerSec / summary.ap.serverCpu);
    ratios.tlsPerCpuPerRound = results.a.map(
      (r, i) => r.eventsPerSec / r.serverCpuPerSec / (results.ap[i].eventsPerSec / results.ap[i].serverCpuPerSec),
    );
    ratios.tlsPlays = summary.a.eventsPerSec / summary.ap.eventsPerSec;
    ratios.tlsPlaysPerRound = perRound('a', 'ap');
  }
  console.log(
    `ratios: bulk ${fmt.f3(ratios.bulk)}, 7digital ${fmt.f3(ratios.v12)} (1 process ${fmt.f3(ratios.v12One)}), ` +
      `plays per CPU-second ${fmt.f3(ratios.cpuVsBare)} (1 process ${fmt.f3(ratios.cpuOneVsBare)})`,
  );

  // Overload at ~3x the plays/s the bulk route sustained just now, in bigger batches and with many more connections.
  const rate = Math.max(1, Math.round((cfg.overloadFactor * summary.a.eventsPerSec) / cfg.overloadBatch));
  const overloads = [];
  overloads.push(await overload('overload-defaults', { DATABASE_URL: db.url }, key, rate, out));
  overloads.push(
    await overload(
      'overload-shedding',
      { DATABASE_URL: db.url, CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0', KAFKA_MAX_IN_FLIGHT: '20000', MAX_EVENT_LOOP_DELAY_MS: '100' },
      key,
      rate,
      out,
    ),
  );
  for (const o of overloads) console.log(`${o.label}: ${JSON.stringify(o)}`);

  const report = { cfg, day: DAY, notes, loadAvgEnd: loadAvgNow(), results, summary, ratios, overloads };
  writeFileSync(join(out, 'results.json'), JSON.stringify(report, null, 2));
  writeFileSync(join(out, 'results.md'), markdown(report));
  console.log(`\n${markdown(report)}`);
  const pass = overloads.every((o) => o.acceptedMissingFromKafka === 0 && o.aliveAfterLoad);
  return pass ? 0 : 1;
}

function markdown({ cfg: c, summary: s, ratios, results, overloads, notes, loadAvgEnd }) {
  const rows = Object.values(s).map((x) => [
    x.label,
    x.connections,
    fmt.int(x.reqPerSec),
    fmt.int(x.eventsPerSec),
    x.p50,
    x.p99,
    fmt.int(x.peakRssMiB),
    fmt.f2(x.serverCpu),
    fmt.f2(x.loadgenCpu),
    fmt.f2(x.brokerCpu),
    fmt.f2(x.machineCpu),
    x.non2xx,
  ]);
  // What the goal rate would cost the rest of the machine, from CPU per event measured here: the
  // broker's in (a)/(c), the bare server's and the load generator's in (b)/(d). Linear estimates.
  const atGoal = (app, bare, goal) => {
    const rate = goal * bare.eventsPerSec;
    const per = (x, k) => x[k] / x.eventsPerSec;
    const broker = rate * per(app, 'brokerCpu');
    const floor = broker + rate * (per(bare, 'serverCpu') + per(bare, 'loadgenCpu'));
    return `at the goal rate (${fmt.int(rate)} events/s) the broker alone would use ${fmt.f2(broker)} cores (its CPU per event in this run), and broker + the bare server's validation + the load generator ${fmt.f2(floor)} of the ${cpus().length} cores, before any of ingest's own work`;
  };
  const per = (id) => results[id].map((r) => fmt.int(r.eventsPerSec)).join(' / ');
  const o = overloads.map((x) => [
    x.label,
    `${x.rate} req/s × ${x.batch} plays = ${fmt.int(x.rate * x.batch)} plays/s for ${fmt.f1(x.sendSeconds)} s, ≤ ${x.connections} sockets`,
    Object.entries(x.statusCodes)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', '),
    `${fmt.int(x.acceptedPlaysPerSec)} over ${fmt.f1(x.seconds)} s`,
    `${x.p50} / ${x.p99}`,
    `${x.maxOutstanding}; ingest's max in-flight ${fmt.int(x.gauges.maxInFlight)}, loop lag ${fmt.int(x.gauges.maxLoopLagMs)} ms, queue-full ${fmt.int(x.gauges.queueFull ?? 0)}`,
    `${fmt.int(x.rssMiB)} (one process at most ${fmt.int(x.rssOneProcessMiB)})`,
    `${fmt.int(x.acceptedPlays)} / ${fmt.int(x.messagesOnTopic)} / ${fmt.int(x.playsOnTopic)} / ${fmt.int(x.distinctPlaysOnTopic)} / **${x.acceptedMissingFromKafka}**`,
    `${x.aliveAfterLoad ? 'yes' : 'NO'}, exit ${x.exit.code ?? x.exit.signal}`,
  ]);
  return [
    `Medians of ${c.rounds} rounds × ${c.duration} s per target (after ${c.warmup} s warm-up each), order alternating per round.`,
    '',
    table(
      [
        'target',
        'conns',
        'req/s',
        'events/s',
        'p50 ms',
        'p99 ms',
        'peak RSS MiB',
        'server CPU (cores)',
        'loadgen CPU',
        'broker CPU',
        'machine CPU',
        'non-2xx+errors',
      ],
      rows,
    ),
    '',
    `Per round events/s: (a) ${per('a')};${s.ap ? ` (ap) ${per('ap')};` : ''} (a1) ${per('a1')}; (b) ${per('b')}; (c) ${per('c')}; (c1) ${per('c1')}; (d) ${per('d')}; (e) ${per('e')}.`,
    '',
    ...(s.ap
      ? [
          `- what TLS and authentication to Kafka cost ingest, (a)/(ap) bulk plays per ingest CPU-second (issue 27's goal: at most 10 %, so ≥ 0.9): ratio of medians **${fmt.f3(ratios.tlsPerCpu)}**, median of per-round ratios ${fmt.f3(median(ratios.tlsPerCpuPerRound))} (per round ${ratios.tlsPerCpuPerRound.map(fmt.f3).join(', ')}); plays/s ${fmt.f3(ratios.tlsPlays)} (median of rounds ${fmt.f3(median(ratios.tlsPlaysPerRound))})`,
        ]
      : []),
    `- bulk (a)/(b) = **${fmt.f3(ratios.bulk)}** (goal ≥ 0.6; per round ${ratios.bulkPerRound.map(fmt.f3).join(', ')})`,
    `- 7digital (c)/(d) = **${fmt.f3(ratios.v12)}** (goal ≥ 0.5; per round ${ratios.v12PerRound.map(fmt.f3).join(', ')})`,
    `- 7digital, one process each, (c1)/(d): ratio of medians **${fmt.f3(ratios.v12One)}**, median of per-round ratios ${fmt.f3(median(ratios.v12OnePerRound))} (per round ${ratios.v12OnePerRound.map(fmt.f3).join(', ')})`,
    `- bulk against the seed-style peer, (a)/(e) plays/s: ratio of medians **${fmt.f2(ratios.peer)}×**, median of per-round ratios ${fmt.f2(median(ratios.peerPerRound))}× (issue 16's goal ≥ 8×; per round ${ratios.peerPerRound.map(fmt.f2).join(', ')})`,
    `- bulk plays per server CPU-second, (a) against (b): ratio of medians **${fmt.f3(ratios.cpuVsBare)}**, median of per-round ratios ${fmt.f3(median(ratios.cpuPerRound))} (issue 16's goal ≥ 0.4; per round ${ratios.cpuPerRound.map(fmt.f3).join(', ')}). Server CPU is the process and its children (ingest's workers, gunicorn's).`,
    `- the same, one process each, (a1) against (b): ratio of medians **${fmt.f3(ratios.cpuOneVsBare)}**, median of per-round ratios ${fmt.f3(median(ratios.cpuOnePerRound))} (per round ${ratios.cpuOnePerRound.map(fmt.f3).join(', ')}).`,
    `- CPU columns are cores over each run (/proc): the server process, autocannon (in the bench process), the Kafka broker (JVM), and the whole machine.`,
    `- Bulk: ${atGoal(s.a, s.b, 0.6)}.`,
    `- 7digital: ${atGoal(s.c, s.d, 0.5)}.`,
    '',
    'Overload, open loop (unique plays; accepted = plays of 2xx responses, their ids recomputed; env per run in results.json):',
    '',
    table(
      [
        'run',
        'offered',
        'status codes',
        'accepted plays/s',
        'p50 / p99 ms',
        'max requests outstanding; from /metrics (sampled every 0.5 s)',
        'peak RSS MiB, all processes (one process at most)',
        'accepted / msgs on topic / plays on topic / distinct play ids / **accepted missing**',
        'alive, exit',
      ],
      o,
    ),
    '',
    notes,
    `- Load average at end: ${loadAvgEnd}`,
    '',
  ].join('\n');
}

runMain(main, num('BENCH_DEADLINE_SECONDS', 900));
