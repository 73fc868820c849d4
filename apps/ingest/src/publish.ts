import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CLIENT_NAME, encodePlays, type Play, type PlayContext } from '@playlog/schema';
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

/**
 * A request's plays as Kafka messages of at most `perMessage` plays each (format 2 of the codec): one
 * produce and one delivery report per chunk instead of per play. A chunk whose value would pass
 * MAX_MESSAGE_BYTES (long user ids and agents) is halved until it fits. Each play carries its own
 * identity inside the message; the key is the chunk's first play id, so a one-play message (the
 * 7digital routes' usual case) is keyed by its play, and chunks spread over the partitions.
 */
export function playMessages(plays: Play[], perMessage: number): OutgoingMessage[] {
  const out: OutgoingMessage[] = [];
  const add = (chunk: Play[]): void => {
    const value = encodePlays(chunk);
    if (value.length > MAX_MESSAGE_BYTES && chunk.length > 1) {
      const half = Math.ceil(chunk.length / 2);
      add(chunk.slice(0, half));
      add(chunk.slice(half));
      return;
    }
    const first = chunk[0]!.playId;
    out.push({ key: first, value, weight: chunk.length, headers: [{ 'play-id': first }, { 'play-count': String(chunk.length) }] });
  };
  for (let i = 0; i < plays.length; i += perMessage) add(plays.length <= perMessage ? plays : plays.slice(i, i + perMessage));
  return out;
}

interface Waiting {
  plays: Play[];
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

  write(plays: Play[]): Promise<void> {
    if (plays.length >= this.perMessage) return this.sendPlays(plays);
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ plays, resolve, reject });
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
      if (size + w.plays.length > this.perMessage) {
        this.sendGroup(group);
        group = [];
        size = 0;
      }
      group.push(w);
      size += w.plays.length;
    }
    this.sendGroup(group);
  }

  private sendGroup(group: Waiting[]): void {
    if (group.length === 0) return;
    this.sendPlays(group.length === 1 ? group[0]!.plays : group.flatMap((w) => w.plays)).then(
      () => group.forEach((w) => w.resolve()),
      (err: unknown) => group.forEach((w) => w.reject(err)),
    );
  }

  /** Always a promise: a send that throws (it should not) fails its writes instead of the process. */
  private async sendPlays(plays: Play[]): Promise<void> {
    await this.send(playMessages(plays, this.perMessage));
  }
}

/**
 * Writes plays to Kafka and resolves only when the broker has durably taken all of them. If any message
 * fails, the whole request fails with 503: nothing is reported accepted, and the client's retry is
 * deduplicated by play id downstream.
 */
export async function publishPlays(app: FastifyInstance, cfg: IngestConfig, route: string, plays: Play[]): Promise<void> {
  try {
    await app.playWriter.write(plays);
  } catch (err) {
    app.metrics.plays.inc({ route, outcome: 'failed' }, plays.length);
    const retry = { 'Retry-After': String(cfg.retryAfterSeconds) };
    if (err instanceof KafkaError && err.code === KAFKA_QUEUE_FULL) {
      throw new HttpError(503, Codes.overloaded, 'server is overloaded; nothing was accepted, retry later', retry);
    }
    throw new HttpError(503, Codes.kafkaUnavailable, 'Kafka did not confirm the write; nothing was accepted, retry later', retry);
  }
  app.metrics.plays.inc({ route, outcome: 'accepted' }, plays.length);
}
