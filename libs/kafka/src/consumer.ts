import Kafka from 'node-rdkafka';

import { rdkafkaSettings, type KafkaCluster } from './cluster.js';
import { KafkaError, KAFKA_OFFSETS, throttledWarn, unavailable, type KafkaLogger } from './errors.js';

export interface ConsumerOptions {
  cluster: KafkaCluster;
  groupId: string;
  topic: string;
  clientId: string;
  log: KafkaLogger;
  config?: Kafka.ConsumerGlobalConfig;
}

export interface PartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read (last processed + 1), as Kafka commits it. */
  offset: number;
}

export type ConsumedMessage = Kafka.Message;

/**
 * A consumer-group member that hands out batches and commits only what the caller says is durable.
 * Auto-commit and auto offset store are off: an offset is committed only by `commit`, which the
 * loader calls after its database transaction. After a rebalance or crash, uncommitted messages are
 * delivered again, so the writes downstream must be idempotent.
 */
export class BatchConsumer {
  /** The last lag measurement (lag()), awaited by close; and whether close has begun. */
  private lagging: Promise<void> | undefined;
  private closing = false;
  private readonly consumer: Kafka.KafkaConsumer;
  private readonly log: KafkaLogger;
  private assigned: Kafka.Assignment[] = [];
  /** The latest offsets handed to commit(), per partition, re-committed synchronously on close. */
  private readonly committing = new Map<string, PartitionOffset>();

  constructor(private readonly opts: ConsumerOptions) {
    this.log = opts.log;
    this.consumer = new Kafka.KafkaConsumer(
      {
        ...rdkafkaSettings(opts.cluster, opts.clientId),
        'group.id': opts.groupId,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'enable.partition.eof': false,
        'socket.keepalive.enable': true,
        'reconnect.backoff.max.ms': 2_000,
        'fetch.wait.max.ms': 100,
        // A member that dies (SIGKILL, node loss) is noticed in 10 s, so its partitions move on quickly.
        'session.timeout.ms': 10_000,
        'heartbeat.interval.ms': 3_000,
        'queued.max.messages.kbytes': 65_536,
        rebalance_cb: (err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]) => this.onRebalance(err, assignment),
        offset_commit_cb: (err: Kafka.LibrdKafkaError | null) => {
          // A lost commit only means re-reading what is already stored (the writes are idempotent).
          if (err) this.log.warn({ err }, 'offset commit failed; messages will be re-read');
        },
        ...opts.config,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    this.consumer.on('event.error', throttledWarn(this.log, 'kafka consumer error'));
  }

  private onRebalance(err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]): void {
    if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
      this.consumer.assign(assignment);
      this.assigned = assignment;
      this.log.info({ partitions: assignment.map((a) => a.partition) }, 'partitions assigned');
    } else if (err.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
      // A batch in flight for these partitions will fail to commit; its messages come again to the
      // next owner and the idempotent write absorbs them.
      this.consumer.unassign();
      this.assigned = [];
      this.committing.clear();
      this.log.info({ partitions: assignment.map((a) => a.partition) }, 'partitions revoked');
    } else {
      this.log.error({ err }, 'rebalance error');
    }
  }

  async connect(timeoutMs = 15_000): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.consumer.connect({ timeout: timeoutMs }, (err) =>
        err ? reject(unavailable(`cannot connect to Kafka at ${this.opts.cluster.brokers}: ${err.message}`, err)) : resolve(),
      );
    });
    this.consumer.subscribe([this.opts.topic]);
  }

  isConnected(): boolean {
    return this.consumer.isConnected();
  }

  assignments(): Kafka.Assignment[] {
    return this.assigned;
  }

  /** Up to `max` messages, waiting at most `waitMs` for the first ones. */
  nextBatch(max: number, waitMs: number): Promise<ConsumedMessage[]> {
    this.consumer.setDefaultConsumeTimeout(waitMs);
    return new Promise((resolve, reject) => {
      this.consumer.consume(max, (err, messages) => (err ? reject(unavailable(`consume failed: ${err.message}`, err)) : resolve(messages)));
    });
  }

  /**
   * Commits the given offsets without waiting for the broker's answer (a blocking commit per batch
   * costs a round trip each time). Commits go out in call order; a failure is logged, and costs only a
   * re-read of stored messages. Throws if the commit cannot even be queued.
   */
  commit(offsets: PartitionOffset[]): void {
    // Only partitions still ours: a batch finished after a rebalance must not move its new owner's
    // offsets (backwards, which would mean re-reads; never loss).
    const owned = offsets.filter((o) => this.assigned.some((a) => a.topic === o.topic && a.partition === o.partition));
    if (owned.length === 0) return;
    offsets = owned;
    try {
      this.consumer.commit(offsets);
    } catch (err) {
      throw new KafkaError(KAFKA_OFFSETS, `commit failed: ${(err as Error).message}`, { cause: err });
    }
    for (const o of offsets) this.committing.set(`${o.topic}\u0000${o.partition}`, o);
  }

  /** Per assigned partition: the broker's high watermark minus our position (messages not yet read). */
  async lag(timeoutMs = 2_000): Promise<{ partition: number; lag: number }[]> {
    const measuring = this.measureLag(timeoutMs);
    this.lagging = measuring.then(
      () => undefined,
      () => undefined,
    );
    return measuring;
  }

  private async measureLag(timeoutMs: number): Promise<{ partition: number; lag: number }[]> {
    const positions = this.consumer.position(this.assigned.map((a) => ({ topic: a.topic, partition: a.partition })));
    const out: { partition: number; lag: number }[] = [];
    for (const p of positions) {
      if (this.closing) break;
      const wm = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
        this.consumer.queryWatermarkOffsets(p.topic, p.partition, timeoutMs, (err, o) => (err ? reject(err) : resolve(o))),
      );
      const pos = p.offset >= 0 ? p.offset : wm.lowOffset;
      out.push({ partition: p.partition, lag: Math.max(0, wm.highOffset - pos) });
    }
    return out;
  }

  async close(): Promise<void> {
    // A watermark query still in flight answers into the client: it ends (≤ its timeout) before the disconnect.
    this.closing = true;
    await this.lagging;
    if (!this.consumer.isConnected()) return;
    if (this.committing.size > 0) {
      // Make sure the last commits landed before leaving the group.
      try {
        this.consumer.commitSync([...this.committing.values()]);
      } catch (err) {
        this.log.warn({ err }, 'final offset commit failed; messages will be re-read');
      }
    }
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()));
  }
}
