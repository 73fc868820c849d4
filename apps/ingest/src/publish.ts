import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CLIENT_NAME, encodeBatches, type PlayBatch, type PlayContext } from '@playlog/schema';
import type { OutgoingMessage } from '@playlog/kafka';
import { KafkaError, KAFKA_QUEUE_FULL } from '@playlog/kafka';
import type { IngestConfig } from './config.js';
import { Codes, HttpError } from './errors.js';
import { isSmokeKey } from './plugins/auth.js';

/**
 * Who sent the plays, from the API key (never from the body), and when. A play is synthetic (stored,
 * never reported) when it comes with a key named `smoke` (see plugins/auth.ts): an ordinary client
 * cannot hide its own plays from the labels' reports. The client name is checked here, once per
 * request, by the rule the loader checks again on the other side of Kafka.
 */
export function playContext(req: FastifyRequest, cfg: IngestConfig): PlayContext {
  if (!CLIENT_NAME.test(req.principal.client)) throw new Error(`key ${req.principal.id} has an invalid client name`);
  return {
    client: req.principal.client,
    apiKeyName: req.principal.name,
    now: Date.now(),
    clockSkewMs: cfg.clockSkewSeconds * 1000,
    synthetic: isSmokeKey(req.principal),
  };
}

/** Kafka's default message size limit is 1 MB (librdkafka's and the broker's); stay well under it. */
const MAX_MESSAGE_BYTES = 900_000;

/** How many plays the batches hold. */
const countPlays = (batches: readonly PlayBatch[]): number => batches.reduce((n, b) => n + b.plays.length, 0);

/** The first `n` plays of `batches` and the rest, as batches again (heads kept). */
function splitBatches(batches: readonly PlayBatch[], n: number): [PlayBatch[], PlayBatch[]] {
  const first: PlayBatch[] = [];
  const rest: PlayBatch[] = [];
  let left = n;
  for (const b of batches) {
    if (left >= b.plays.length) first.push(b);
    else if (left === 0) rest.push(b);
    else {
      first.push({ head: b.head, plays: b.plays.slice(0, left) });
      rest.push({ head: b.head, plays: b.plays.slice(left) });
    }
    left = Math.max(0, left - b.plays.length);
  }
  return [first, rest];
}

/**
 * Batches of plays as Kafka messages of at most `perMessage` plays each (format 3 of the codec): one
 * produce and one delivery report per message instead of per play. A message whose value would pass
 * MAX_MESSAGE_BYTES (long user ids and agents) is halved until it fits. Messages have no key: nothing
 * downstream needs a play on a given partition (the loader stores each play once by its id, whichever
 * partition brings it), so librdkafka's sticky partitioner puts the messages of each
 * `sticky.partitioning.linger.ms` (2 × linger.ms unless set) on one partition: one batch to compress and
 * append instead of one per partition (at linger.ms 0 each message goes to a random partition). Measured in
 * bench/ingest: 19 % less ingest CPU a request on the 1.2 route than keyed by the first play's id.
 */
export function playMessages(batches: readonly PlayBatch[], perMessage: number): OutgoingMessage[] {
  const out: OutgoingMessage[] = [];
  const add = (chunk: readonly PlayBatch[], plays: number): void => {
    const value = encodeBatches(chunk);
    if (value.length > MAX_MESSAGE_BYTES && plays > 1) {
      const half = Math.ceil(plays / 2);
      const [a, b] = splitBatches(chunk, half);
      add(a, half);
      add(b, plays - half);
      return;
    }
    out.push({ value, weight: plays, headers: [{ 'play-count': String(plays) }] });
  };
  let rest: readonly PlayBatch[] = batches;
  for (let left = countPlays(batches); left > 0; left -= perMessage) {
    if (left <= perMessage) add(rest, left);
    else {
      const [chunk, after] = splitBatches(rest, perMessage);
      add(chunk, perMessage);
      rest = after;
    }
  }
  return out;
}

interface Waiting {
  batch: PlayBatch;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Writes the plays of the requests answered in one event-loop turn together: small requests (the 1.2
 * routes send one play each) share messages of up to `perMessage` plays, so a pod taking thousands of
 * them a second makes a produce() call and a delivery report per group instead of per request. A
 * request of `perMessage` plays or more is written on its own, as before. Each write resolves when all
 * messages of its group are durably taken, and fails if any of them fails: a failure never spreads
 * beyond one group of at most `perMessage` plays, and a request is never told its plays were taken
 * unless they were (the others in its group retry, deduplicated downstream by play id).
 */
export class PlayBatcher {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly send: (messages: OutgoingMessage[]) => Promise<void>,
    private readonly perMessage: number,
  ) {}

  write(batch: PlayBatch): Promise<void> {
    if (batch.plays.length >= this.perMessage) return this.sendBatches([batch]);
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ batch, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O callbacks of this turn: every request parsed in it has reached write() by then.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const waiting = this.waiting;
    this.waiting = [];
    this.scheduled = false;
    let group: Waiting[] = [];
    let size = 0;
    for (const w of waiting) {
      if (size + w.batch.plays.length > this.perMessage) {
        this.sendGroup(group);
        group = [];
        size = 0;
      }
      group.push(w);
      size += w.batch.plays.length;
    }
    this.sendGroup(group);
  }

  private sendGroup(group: Waiting[]): void {
    if (group.length === 0) return;
    this.sendBatches(group.map((w) => w.batch)).then(
      () => group.forEach((w) => w.resolve()),
      (err: unknown) => group.forEach((w) => w.reject(err)),
    );
  }

  /** Always a promise: a send that throws (it should not) fails its writes instead of the process. */
  private async sendBatches(batches: PlayBatch[]): Promise<void> {
    await this.send(playMessages(batches, this.perMessage));
  }
}

/**
 * Writes plays to Kafka and resolves only when the broker has durably taken all of them. If any message
 * fails, the whole request fails with 503: nothing is reported accepted, and the client's retry is
 * deduplicated by play id downstream.
 */
export function publishPlays(app: FastifyInstance, cfg: IngestConfig, route: string, batch: PlayBatch): Promise<void> {
  const n = batch.plays.length;
  // A plain promise chain, not an async function: one promise per request fewer on the 1.2 routes.
  return app.playWriter.write(batch).then(
    () => app.metrics.playCount(route, 'accepted').inc(n),
    (err: unknown) => {
      app.metrics.playCount(route, 'failed').inc(n);
      const retry = { 'Retry-After': String(cfg.retryAfterSeconds) };
      if (err instanceof KafkaError && err.code === KAFKA_QUEUE_FULL) {
        throw new HttpError(503, Codes.overloaded, 'server is overloaded; nothing was accepted, retry later', retry);
      }
      throw new HttpError(503, Codes.kafkaUnavailable, 'Kafka did not confirm the write; nothing was accepted, retry later', retry);
    },
  );
}
