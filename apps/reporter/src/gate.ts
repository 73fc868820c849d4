import { randomUUID, type KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { gateMarks, type Queryable } from '@playlog/db';
import { groupProgress, DurableProducer, topicRanges, type KafkaCluster, type KafkaLogger } from '@playlog/kafka';
import { gateMarker } from '@playlog/schema';
import { Registry } from 'prom-client';

export interface GateOptions {
  /** Where plays are acknowledged: ingest's cluster and topic (in two sites, the edge's). */
  ack: KafkaCluster;
  ackTopic: string;
  /** The loader's cluster, topic and group (the core's), for the progress lines. */
  loader: KafkaCluster;
  loaderTopic: string;
  loaderGroup: string;
  /** The secret the markers are authenticated with (GATE_SECRET_FILE), which the loader checks. */
  secret: KeyObject;
  waitMs: number;
  pollMs?: number;
  /** How often a waiting gate says what it waits for. */
  progressMs?: number;
  say: (line: string) => void;
}

export interface GateResult {
  complete: boolean;
  /** Partitions of the acknowledging topic whose plays, acknowledged before the run, are not all stored. */
  waiting: number[];
  /** Why the gate could not even be set (the acknowledging cluster unreachable), when so. */
  problem?: string;
}

const quiet: KafkaLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The completeness gate, across sites: a day may be reported only when every play acknowledged before
 * the run started is in Postgres. The run writes a gate marker (libs/schema gateMarker) to every
 * partition of the acknowledging topic that holds records; Kafka keeps each partition's order, and so
 * does MirrorMaker across the link, so when the loader records that it passed a partition's marker
 * (after committing everything before it), that partition's plays are stored. An empty partition has
 * nothing to wait for. While it waits, the gate says every `progressMs` which partitions it waits for,
 * the loader's lag and the time left; while the link is down, it waits (and then fails, or issues a
 * provisional report): no final version is issued for plays still on the wrong side.
 */
export async function waitForCompleteness(db: Queryable, o: GateOptions): Promise<GateResult> {
  const started = Date.now();
  const deadline = started + o.waitMs;
  const run = randomUUID();
  const marks = gateMarks(db);
  await marks.prune(7);
  const where = `${o.ackTopic} at ${o.ack.brokers}`;

  // Set the gate: a marker in every partition that holds records. Retried until the deadline, since
  // the acknowledging cluster may be briefly unreachable (a broker restarting).
  let partitions: number[] | undefined;
  let problem = '';
  while (partitions === undefined) {
    try {
      partitions = await setMarkers(o, run);
    } catch (err) {
      problem = (err as Error).message;
      if (Date.now() >= deadline) {
        return { complete: false, waiting: [], problem: `cannot write the gate's markers to ${where}: ${problem}` };
      }
      o.say(`gate: cannot reach ${where} yet (${problem}); retrying for ${Math.ceil((deadline - Date.now()) / 1000)} s more`);
      await sleep(Math.min(2_000, Math.max(0, deadline - Date.now())));
    }
  }
  if (partitions.length === 0) return { complete: true, waiting: [] };

  let lastSaid = started;
  for (;;) {
    const passed = new Set(await marks.passed(run));
    const waiting = partitions.filter((p) => !passed.has(p));
    if (waiting.length === 0) {
      if (Date.now() - started > 2_000) o.say(`gate: complete after ${Math.round((Date.now() - started) / 1000)} s`);
      return { complete: true, waiting: [] };
    }
    const now = Date.now();
    if (now >= deadline) return { complete: false, waiting };
    if (now - lastSaid >= (o.progressMs ?? 10_000)) {
      lastSaid = now;
      o.say(
        `gate: waiting for partition${waiting.length > 1 ? 's' : ''} ${waiting.join(', ')} of ${where} to reach Postgres` +
          `; ${await loaderLag(o)}; ${Math.ceil((deadline - now) / 1000)} s left of --wait`,
      );
    }
    await sleep(o.pollMs ?? 500);
  }
}

/** Writes the run's marker into every partition holding records; returns those partitions. */
async function setMarkers(o: GateOptions, run: string): Promise<number[]> {
  const ranges = await topicRanges(o.ack, o.ackTopic, 5_000, 'playlog-reporter-gate');
  const partitions = ranges.filter((r) => r.high > r.low).map((r) => r.partition);
  if (partitions.length === 0) return [];
  const producer = new DurableProducer({
    cluster: o.ack,
    clientId: 'playlog-reporter-gate',
    log: quiet,
    registry: new Registry(),
    deliveryTimeoutMs: 10_000,
  });
  try {
    await producer.connect(5_000);
    await producer.send(
      o.ackTopic,
      partitions.map((partition) => ({
        key: `gate:${run}`,
        value: gateMarker(run, partition, o.secret),
        partition,
        headers: [{ 'playlog-gate': run }],
      })),
    );
    return partitions;
  } finally {
    await producer.close(2_000);
  }
}

/** The loader's lag at its own cluster, in words (or why it cannot be read). */
async function loaderLag(o: GateOptions): Promise<string> {
  try {
    const g = await groupProgress(o.loader, o.loaderTopic, o.loaderGroup, 3_000);
    const lag = g.partitions.reduce((s, p) => s + Math.max(0, p.end - Math.max(0, p.committed)), 0);
    const crossing =
      lag === 0 && o.ack.brokers !== o.loader.brokers
        ? ' (so what is missing has not crossed from the edge: is the link, MirrorMaker, up?)'
        : '';
    return `loader group ${o.loaderGroup} is ${lag} message(s) behind on ${o.loaderTopic}${crossing}`;
  } catch (err) {
    return `the loader's lag cannot be read (${(err as Error).message})`;
  }
}
