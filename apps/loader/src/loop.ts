import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchConsumer, ConsumedMessage, KafkaLogger, PartitionOffset } from '@playlog/kafka';
import type { GateMark, GateMarks, PlaysWriter } from '@playlog/db';
import { DecodeError, decodePlays, encodePlay, gateMarkerValid, type Play } from '@playlog/schema';
import type { DeadLetter, DeadLetters } from './dead-letter.js';
import type { LoaderMetrics } from './metrics.js';
import type { Throttle } from './throttle.js';

export interface LoopOptions {
  batchSize: number;
  batchWaitMs: number;
  /** Batches written to Postgres at once (each on its own connection); offsets still commit in order. */
  writeConcurrency: number;
  /** The secret gate markers are authenticated with (GATE_SECRET_FILE): only those it verifies are recorded. */
  gateSecret: KeyObject;
  /** CLOCK_SKEW_SECONDS in ms: how far after its receipt a play may be dated (ingest's rule, checked again). */
  clockSkewMs: number;
}

interface Decoded {
  play: Play;
  message: ConsumedMessage;
}

interface Batch {
  /** Next offset to commit per partition, once the batch is durable. */
  offsets: Map<string, PartitionOffset>;
  messages: number;
  good: Decoded[];
  dead: DeadLetter[];
  /** Gate markers met in the batch (libs/schema gateMarker), recorded once it is committed in order. */
  gates: GateMark[];
}

/** SQLSTATE classes that mean "this data cannot be stored", as opposed to "the database is unwell". */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

function partitionKey(p: { topic: string; partition: number }): string {
  return `${p.topic}\u0000${p.partition}`;
}

function noteOffset(next: Map<string, PartitionOffset>, m: ConsumedMessage): void {
  const k = partitionKey(m);
  const cur = next.get(k);
  if (!cur || m.offset + 1 > cur.offset) next.set(k, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
}

/** The next offset to commit per partition: one past the highest offset in the batch. */
export function commitOffsets(messages: ConsumedMessage[]): PartitionOffset[] {
  const next = new Map<string, PartitionOffset>();
  for (const m of messages) noteOffset(next, m);
  return [...next.values()];
}

/**
 * consume → decode → write → commit, one batch at a time. Offsets are committed only after the
 * database transaction: a crash anywhere before that means the batch is read again, and the
 * idempotent write (ON CONFLICT DO NOTHING on the play id) absorbs the repeat. A database outage
 * makes the loop back off and retry the same batch, keeping its offsets, until the database is back.
 */
/** What a failed step depends on: a database failure and a Kafka failure are reported apart. */
export type BackOffTarget = 'database' | 'kafka';

export class LoadLoop {
  private stopping = false;
  private running: Promise<void> | undefined;
  private wake: AbortController = new AbortController();
  /** Plays per message in the last read; starts at what ingest writes, so a first read never overshoots much. */
  private playsPerMessage = 500;
  /** Messages read but not yet in a batch (see collect). */
  private carried: ConsumedMessage[] = [];
  lastTick = Date.now();
  /** What the loop is backing off from, while it is: the database, or Kafka (the dead-letter topic). */
  backingOffFrom: BackOffTarget | undefined;
  private forgedMarkers = 0;

  constructor(
    private readonly consumer: BatchConsumer,
    private readonly writer: PlaysWriter,
    private readonly dlq: DeadLetters,
    private readonly gates: GateMarks,
    private readonly throttle: Throttle,
    private readonly metrics: LoaderMetrics,
    private readonly log: KafkaLogger,
    private readonly opts: LoopOptions,
  ) {}

  start(): void {
    this.running = this.loop().catch((err: unknown) => {
      this.log.error({ err }, 'load loop crashed');
      throw err;
    });
  }

  /** Finishes (or abandons, if the database is down) the batch in hand, then returns. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    await this.running?.catch(() => undefined);
  }

  private tick(): void {
    this.lastTick = Date.now();
    this.metrics.lastTick.set(this.lastTick / 1000);
  }

  private async pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return;
    await sleep(ms, undefined, { signal: this.wake.signal }).catch(() => undefined);
  }

  /**
   * While up to writeConcurrency batches are being written to Postgres (each in its own transaction on
   * its own connection), the next one is read and decoded, so the loader's CPU work and the database's
   * overlap instead of taking turns. Offsets are committed in batch order: a batch's only after every
   * earlier batch's write has committed, so a crash never skips a message that is not stored.
   */
  private async loop(): Promise<void> {
    const writes = new Set<Promise<boolean>>();
    let previous: Promise<boolean> = Promise.resolve(true);
    while (!this.stopping) {
      const batch = await this.collect();
      this.tick();
      if (batch.messages === 0) continue;
      while (writes.size >= this.opts.writeConcurrency) await Promise.race(writes);
      if (this.stopping) break; // the batch in hand is not committed: it is read again next time
      const wait = this.throttle.delayMs();
      if (wait > 0) {
        this.metrics.throttleSeconds.inc(wait / 1000);
        await this.pause(wait);
      }
      const write = this.store(batch, previous);
      previous = write;
      writes.add(write);
      const done = () => writes.delete(write);
      write.then(done, done);
    }
    await Promise.allSettled(writes);
  }

  /**
   * Reads and decodes until the batch holds batchSize plays or batchWaitMs has passed since the first
   * message. A message holds one play or many (ingest writes a request's plays together), so each read
   * asks for as many messages as the remaining room needs at the last seen plays per message. Messages
   * read beyond the room (the mix changed: bulk chunks after single plays) are carried over to start
   * the next batch, so a batch passes batchSize by less than one message.
   */
  private async collect(): Promise<Batch> {
    const limit = this.throttle.batchLimit(this.opts.batchSize);
    const batch: Batch = { offsets: new Map(), messages: 0, good: [], dead: [], gates: [] };
    const started = Date.now();
    let rows = 0;
    /** Adds messages while there is room, carries the rest; returns how many it added. */
    const take = (messages: ConsumedMessage[]): number => {
      for (const [i, message] of messages.entries()) {
        if (rows >= limit) {
          this.carried.push(...messages.slice(i));
          return i;
        }
        rows += this.decodeInto(batch, message);
      }
      return messages.length;
    };
    if (this.carried.length > 0) {
      // Only partitions still ours: after a rebalance their new owner reads the rest.
      const owned = new Set(this.consumer.assignments().map(partitionKey));
      const carried = this.carried.filter((m) => owned.has(partitionKey(m)));
      this.carried = [];
      take(carried);
    }
    while (!this.stopping && rows < limit) {
      const elapsed = Date.now() - started;
      if (batch.messages > 0 && elapsed >= this.opts.batchWaitMs) break;
      const want = Math.max(1, Math.floor((limit - rows) / this.playsPerMessage));
      const got = await this.consumer.nextBatch(want, Math.min(100, Math.max(10, this.opts.batchWaitMs - elapsed)));
      const before = rows;
      const used = take(got);
      if (used > 0) this.playsPerMessage = Math.max(1, (rows - before) / used);
      if (got.length === 0 && (batch.messages > 0 || elapsed >= this.opts.batchWaitMs)) break;
    }
    return batch;
  }

  /** Adds one message's plays (or its reasons for refusal) to the batch; returns how many items it held. */
  private decodeInto(batch: Batch, message: ConsumedMessage): number {
    batch.messages++;
    noteOffset(batch.offsets, message);
    try {
      const { plays, refused, gate } = decodePlays(message.value, { now: Date.now(), skewMs: this.opts.clockSkewMs });
      if (gate && gateMarkerValid(gate, message.partition, this.opts.gateSecret)) {
        batch.gates.push({ run: gate.run, topic: message.topic, partition: message.partition, offset: message.offset });
      } else if (gate) this.forgedMarker(message);
      for (const play of plays) batch.good.push({ play, message });
      for (const r of refused) batch.dead.push({ message, kind: 'invalid', reason: r.reason, value: r.value });
      return plays.length + refused.length;
    } catch (err) {
      batch.dead.push({ message, kind: err instanceof DecodeError ? err.kind : 'invalid', reason: (err as Error).message });
      return 1;
    }
  }

  /**
   * A gate marker the reporter did not write (no valid MAC for its partition): it releases no gate. Counted,
   * and logged the first times and then every 1000th, so a flood of them cannot flood the log.
   */
  private forgedMarker(message: ConsumedMessage): void {
    this.metrics.gateMarkersRejected.inc();
    const n = ++this.forgedMarkers;
    if (n <= 5 || n % 1000 === 0) {
      this.log.warn(
        { topic: message.topic, partition: message.partition, offset: message.offset, seen: n },
        'gate marker not authenticated; not recorded',
      );
    }
  }

  /**
   * Writes a decoded batch (retrying while the database is down), dead-letters, then, once `previous`
   * (the batch before it) has committed its own, records its gate markers and commits its offsets. Resolves to whether it committed: a batch
   * abandoned on shutdown is read again next time, and so is every batch after it.
   */
  private async store({ offsets, good, dead, gates }: Batch, previous: Promise<boolean>): Promise<boolean> {
    const startedAt = Date.now();
    const rows = good.length + dead.length;
    this.throttle.started(rows);
    const refused = await this.retrying('write batch', 'database', () => this.write(good));
    if (!refused) return false; // stopping while the database was down: nothing committed
    dead.push(...refused.value);
    if (dead.length > 0 && !(await this.retrying('dead-letter', 'kafka', () => this.sendDead(dead)))) return false;
    const writeMs = Date.now() - startedAt;
    this.throttle.finished(writeMs);
    this.metrics.writeSeconds.observe(writeMs / 1000);
    this.metrics.batchSize.observe(rows);
    if (!(await previous)) return false;
    // Everything before these markers is stored now (this batch, and every earlier one): say so.
    if (gates.length > 0 && !(await this.retrying('record gate markers', 'database', () => this.gates.record(gates)))) return false;
    try {
      this.consumer.commit([...offsets.values()]);
      this.metrics.batches.inc();
    } catch (err) {
      // Typically a rebalance took the partitions away; their new owner re-reads and dedupes.
      this.log.warn({ err }, 'offset commit failed; batch will be re-read');
    }
    return true;
  }

  private async sendDead(dead: DeadLetter[]): Promise<void> {
    await this.dlq.send(dead);
    for (const d of dead) this.metrics.dlq.inc({ reason: d.kind });
    this.metrics.rows.inc({ outcome: 'dead_lettered' }, dead.length);
    this.log.warn({ count: dead.length, first: dead[0]!.reason }, 'messages sent to dead-letter topic');
  }

  /**
   * Writes the batch; if the database refuses its data, splits it in halves until the refused plays are
   * alone, and dead-letters those (as the Kafka Connect JDBC sink retries row by row, in log₂ steps).
   */
  private async write(good: Decoded[]): Promise<DeadLetter[]> {
    const dead: DeadLetter[] = [];
    await this.writeOrSplit(good, dead);
    return dead;
  }

  private async writeOrSplit(rows: Decoded[], dead: DeadLetter[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      this.count(await this.writer.write(rows.map((g) => g.play)));
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (rows.length === 1) {
        const { play, message } = rows[0]!;
        dead.push({ message, kind: 'unstorable', reason: `db: ${(err as Error).message}`, value: encodePlay(play), key: play.playId });
        return;
      }
      if (dead.length === 0) this.log.warn({ err }, 'batch refused by the database; splitting it');
      const half = Math.ceil(rows.length / 2);
      await this.writeOrSplit(rows.slice(0, half), dead);
      await this.writeOrSplit(rows.slice(half), dead);
    }
  }

  private count(r: { inserted: number; duplicates: number }): void {
    this.metrics.rows.inc({ outcome: 'inserted' }, r.inserted);
    this.metrics.rows.inc({ outcome: 'duplicate' }, r.duplicates);
  }

  /** Runs `op` until it succeeds, backing off up to 30 s; undefined if the loader stops first. */
  private async retrying<T>(what: string, target: BackOffTarget, op: () => Promise<T>): Promise<{ value: T } | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const value = await op();
        if (this.backingOffFrom) this.log.info({ what }, 'recovered');
        this.backingOffFrom = undefined;
        this.metrics.paused.set(0);
        return { value };
      } catch (err) {
        if (this.stopping) return undefined;
        (target === 'database' ? this.metrics.dbErrors : this.metrics.deadLetterErrors).inc();
        this.backingOffFrom = target;
        this.metrics.paused.set(1);
        const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
        this.log.warn({ err, attempt, delayMs: delay }, `${what} failed; retrying`);
        this.tick(); // backing off is alive, not stalled
        await this.pause(delay);
        if (this.stopping) return undefined;
      }
    }
  }
}
