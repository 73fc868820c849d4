import type { KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchConsumer, ConsumedMessage, KafkaLogger, PartitionOffset } from '@playlog/kafka';
import type { GateMark, GateMarks, PlaysWriter } from '@playlog/db';
import { encodePlay, gateMarkerValid, type DecodeRules, type Play } from '@playlog/schema';
import type { DeadLetter, DeadLetters } from './dead-letter.js';
import { decodeFully, type DecodedBatch } from './decode.js';
import { inlineDecoder, type Decoder } from './decoder.js';
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
  /** Where batches are decoded and rendered for COPY (decoder.ts); default: inline, on the loop's thread. */
  decoder?: Decoder;
}

interface Batch {
  /** Next offset to commit per partition, once the batch is durable. */
  offsets: Map<string, PartitionOffset>;
  messages: ConsumedMessage[];
  /** Plays the messages hold, as their play-count headers say (estimate: see itemsIn). */
  rows: number;
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

/**
 * The next offset to commit per partition: one past the highest offset in the batch.
 * @internal Exported for its tests only.
 */
export function commitOffsets(messages: ConsumedMessage[]): PartitionOffset[] {
  const next = new Map<string, PartitionOffset>();
  for (const m of messages) noteOffset(next, m);
  return [...next.values()];
}

/** What a failed step depends on: a database failure and a Kafka failure are reported apart. */
export type BackOffTarget = 'database' | 'kafka';

/**
 * consume → decode → write → commit, batch by batch. Offsets are committed only after the database
 * transaction: a crash anywhere before that means the batch is read again, and the idempotent write
 * (ON CONFLICT DO NOTHING on the play id) absorbs the repeat. A database outage makes the loop back off
 * and retry the same batch, keeping its offsets, until the database is back.
 */
export class LoadLoop {
  private stopping = false;
  private running: Promise<void> | undefined;
  private wake: AbortController = new AbortController();
  /** Plays per message in the last read; starts at what ingest writes, so a first read never overshoots much. */
  private playsPerMessage = 500;
  /** Bytes per play or refusal in the last decoded batch: the estimate for a message without a play count. */
  private bytesPerItem = 200;
  /** Messages read but not yet in a batch (see collect). */
  private carried: ConsumedMessage[] = [];
  lastTick = Date.now();
  /** What the loop is backing off from, while it is: the database, or Kafka (the dead-letter topic). */
  backingOffFrom: BackOffTarget | undefined;
  private forgedMarkers = 0;
  private readonly decoder: Decoder;

  constructor(
    private readonly consumer: BatchConsumer,
    private readonly writer: PlaysWriter,
    private readonly dlq: DeadLetters,
    private readonly gates: GateMarks,
    private readonly throttle: Throttle,
    private readonly metrics: LoaderMetrics,
    private readonly log: KafkaLogger,
    private readonly opts: LoopOptions,
  ) {
    this.decoder = opts.decoder ?? inlineDecoder();
  }

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
    // Since when no write has been in flight (the database idle, as far as the loader is concerned).
    let idleSince = performance.now();
    while (!this.stopping) {
      const batch = await this.collect();
      this.tick();
      if (batch.messages.length === 0) continue;
      // Decoding starts now (on the decoder's thread, while earlier batches are being written).
      const rules: DecodeRules = { now: Date.now(), skewMs: this.opts.clockSkewMs };
      const decoded = this.decoder.decode(
        batch.messages.map((m) => m.value),
        rules,
      );
      if (writes.size >= this.opts.writeConcurrency) {
        const waitFrom = performance.now();
        while (writes.size >= this.opts.writeConcurrency) await Promise.race(writes);
        this.metrics.slotWaitSeconds.inc((performance.now() - waitFrom) / 1000);
      }
      if (this.stopping) break; // the batch in hand is not committed: it is read again next time
      const wait = this.throttle.delayMs();
      if (wait > 0) {
        this.metrics.throttleSeconds.inc(wait / 1000);
        await this.pause(wait);
      }
      if (writes.size === 0) this.metrics.writesIdleSeconds.inc((performance.now() - idleSince) / 1000);
      const write = this.store(batch, decoded, rules, previous);
      previous = write;
      writes.add(write);
      const done = () => {
        writes.delete(write);
        if (writes.size === 0) idleSince = performance.now();
      };
      write.then(done, done);
    }
    await Promise.allSettled(writes);
  }

  /**
   * Reads until the batch holds about batchSize plays or batchWaitMs has passed since the first message.
   * A message holds one play or many (ingest writes a request's plays together, and says how many in its
   * play-count header), so each read asks for as many messages as the remaining room needs at the last
   * seen plays per message. Messages read beyond the room (the mix changed: bulk chunks after single
   * plays) are carried over to start the next batch, so a batch passes batchSize by less than one message.
   * Messages are decoded later, away from this thread (decoder.ts).
   */
  private async collect(): Promise<Batch> {
    const limit = this.throttle.batchLimit(this.opts.batchSize);
    const batch: Batch = { offsets: new Map(), messages: [], rows: 0 };
    const started = Date.now();
    /** Adds messages while there is room, carries the rest; returns how many it added. */
    const take = (messages: ConsumedMessage[]): void => {
      const before = batch.rows;
      let used = 0;
      for (const message of messages) {
        if (batch.rows >= limit) break;
        batch.messages.push(message);
        noteOffset(batch.offsets, message);
        batch.rows += this.itemsIn(message);
        used++;
      }
      if (used < messages.length) this.carried.push(...messages.slice(used));
      if (used > 0) this.playsPerMessage = Math.max(1, (batch.rows - before) / used);
    };
    if (this.carried.length > 0) {
      // Only partitions still ours: after a rebalance their new owner reads the rest.
      const owned = new Set(this.consumer.assignments().map(partitionKey));
      const carried = this.carried.filter((m) => owned.has(partitionKey(m)));
      this.carried = [];
      take(carried);
    }
    while (!this.stopping && batch.rows < limit) {
      const elapsed = Date.now() - started;
      if (batch.messages.length > 0 && elapsed >= this.opts.batchWaitMs) break;
      const want = Math.max(1, Math.ceil((limit - batch.rows) / this.playsPerMessage));
      const got = await this.consumer.nextBatch(want, Math.min(100, Math.max(10, this.opts.batchWaitMs - elapsed)));
      take(got);
      if (got.length === 0 && (batch.messages.length > 0 || elapsed >= this.opts.batchWaitMs)) break;
    }
    return batch;
  }

  /**
   * How many plays a message holds: its play-count header (ingest's, format 3), or for a message without
   * one (older formats, other writers) an estimate from its size. Only the batch's size depends on it.
   */
  private itemsIn(message: ConsumedMessage): number {
    const header = message.headers?.find((h) => 'play-count' in h)?.['play-count'];
    if (header !== undefined) {
      const n = Number(String(header));
      if (Number.isSafeInteger(n) && n > 0) return Math.min(n, 100_000);
    }
    return Math.max(1, Math.round((message.value?.length ?? 0) / this.bytesPerItem));
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
   * Takes the batch's decoding, writes its plays (retrying while the database is down), dead-letters what
   * was refused, then, once `previous` (the batch before it) has committed its own, records its gate markers
   * and commits its offsets. Resolves to whether it committed: a batch abandoned on shutdown is read again
   * next time, and so is every batch after it.
   */
  private async store(batch: Batch, decoding: Promise<DecodedBatch>, rules: DecodeRules, previous: Promise<boolean>): Promise<boolean> {
    const { messages, offsets } = batch;
    const decoded = await decoding;
    const startedAt = Date.now();
    this.metrics.decodeSeconds.inc(decoded.seconds);
    const dead: DeadLetter[] = decoded.refused.map((r) => ({ message: messages[r.at]!, kind: r.kind, reason: r.reason, value: r.value }));
    const rows = decoded.plays + dead.length;
    if (rows > 0) this.bytesPerItem = Math.max(1, messages.reduce((n, m) => n + (m.value?.length ?? 0), 0) / rows);
    // Markers are authenticated here: the gate's secret stays on this thread.
    const gates: GateMark[] = [];
    for (const { at, marker } of decoded.gates) {
      const m = messages[at]!;
      if (gateMarkerValid(marker, m.partition, this.opts.gateSecret)) {
        gates.push({ run: marker.run, topic: m.topic, partition: m.partition, offset: m.offset });
      } else this.forgedMarker(m);
    }
    this.throttle.started(rows);
    const refused = await this.retrying('write batch', 'database', () => this.write(messages, decoded, rules));
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
   * Writes the batch as prepared; if the database refuses its data (or a play had no binary form), decodes
   * it again here and splits it in halves until the refused plays are alone, and dead-letters those (as the
   * Kafka Connect JDBC sink retries row by row, in log₂ steps).
   */
  private async write(messages: ConsumedMessage[], decoded: DecodedBatch, rules: DecodeRules): Promise<DeadLetter[]> {
    if (decoded.prepared) {
      try {
        this.count(await this.writer.write(decoded.prepared));
        return [];
      } catch (err) {
        if (!isDataError(err)) throw err;
        this.log.warn({ err }, 'batch refused by the database; splitting it');
      }
    }
    const from: number[] = [];
    const { plays } = decodeFully(
      messages.map((m) => m.value),
      rules,
      from,
    );
    const dead: DeadLetter[] = [];
    await this.writeOrSplit(
      plays,
      from.map((at) => messages[at]!),
      dead,
    );
    return dead;
  }

  private async writeOrSplit(plays: Play[], from: ConsumedMessage[], dead: DeadLetter[]): Promise<void> {
    if (plays.length === 0) return;
    try {
      this.count(await this.writer.write(plays));
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (plays.length === 1) {
        const play = plays[0]!;
        dead.push({
          message: from[0]!,
          kind: 'unstorable',
          reason: `db: ${(err as Error).message}`,
          value: encodePlay(play),
          key: play.playId,
        });
        return;
      }
      const half = Math.ceil(plays.length / 2);
      await this.writeOrSplit(plays.slice(0, half), from.slice(0, half), dead);
      await this.writeOrSplit(plays.slice(half), from.slice(half), dead);
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
