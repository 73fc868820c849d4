import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import { rdkafkaSettings, type KafkaCluster } from './cluster.js';
import { throttledWarn, type KafkaLogger } from './errors.js';
import { retryConnect } from './retry.js';

/** librdkafka's logical offset for "the first record there is" (node-rdkafka's Topic.OFFSET_BEGINNING, untyped). */
const OFFSET_BEGINNING = -2;

export interface FollowerOptions {
  cluster: KafkaCluster;
  topic: string;
  clientId: string;
  log: KafkaLogger;
  /** Called for every record, in order per partition, from the beginning of the topic. */
  onMessage: (message: Kafka.Message) => void;
  /** Called once, when every record present at start has been read. */
  onCaughtUp?: () => void;
  /** How long each read waits for records: a record is seen at most this late (default 100 ms). */
  pollMs?: number;
}

export interface FollowerState {
  connected: boolean;
  /** Every record that was on the topic when reading started has been read. */
  caughtUp: boolean;
  /** Why the topic cannot be read, when it cannot (no such topic, broker unreachable). */
  problem?: string;
}

/**
 * Reads a small topic from its beginning and keeps following it: every partition assigned directly,
 * no consumer group and no committed offsets, so each process rebuilds its view from the topic (for a
 * compacted topic, the latest record of every key). Connecting is retried in the background; until the
 * records present at start have all been read, `state().caughtUp` is false.
 */
export class TopicFollower {
  private readonly consumer: Kafka.KafkaConsumer;
  /** Per partition, the end offset when reading started; caught up when every position reaches it. */
  private ends = new Map<number, number>();
  private caughtUp = false;
  private problem: string | undefined = 'not connected yet';
  private stopped = false;
  private stopRetrying: (() => void) | undefined;
  private reading: Promise<void> | undefined;

  constructor(private readonly opts: FollowerOptions) {
    this.consumer = new Kafka.KafkaConsumer(
      {
        ...rdkafkaSettings(opts.cluster, opts.clientId),
        // librdkafka wants a group id; nothing joins or commits to it. Under the client id, so that the
        // principal's Describe on its group prefix covers it (docs/security.md).
        'group.id': `${opts.clientId}-${randomBytes(6).toString('hex')}`,
        'enable.auto.commit': false,
        'socket.keepalive.enable': true,
        'reconnect.backoff.max.ms': 2_000,
        'fetch.wait.max.ms': 100,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    this.consumer.on('event.error', throttledWarn(opts.log, 'kafka follower error'));
  }

  state(): FollowerState {
    return { connected: this.consumer.isConnected(), caughtUp: this.caughtUp, problem: this.problem };
  }

  /** Starts connecting and reading; returns at once. */
  start(): void {
    this.stopRetrying = retryConnect(
      () => this.begin(),
      this.opts.log,
      `topic ${this.opts.topic} at ${this.opts.cluster.brokers}`,
      (why) => (this.problem = why),
    );
  }

  private async begin(): Promise<void> {
    if (!this.consumer.isConnected()) {
      await new Promise<void>((resolve, reject) => this.consumer.connect({ timeout: 5_000 }, (err) => (err ? reject(err) : resolve())));
    }
    const meta = await new Promise<Kafka.Metadata>((resolve, reject) =>
      this.consumer.getMetadata({ topic: this.opts.topic, timeout: 5_000 }, (err, m) => (err ? reject(err) : resolve(m))),
    );
    const t = meta.topics.find((x) => x.name === this.opts.topic);
    if (!t || t.partitions.length === 0) throw new Error(`topic ${this.opts.topic} does not exist`);
    for (const p of t.partitions) {
      const wm = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
        this.consumer.queryWatermarkOffsets(this.opts.topic, p.id, 5_000, (err, o) => (err ? reject(err) : resolve(o))),
      );
      if (wm.highOffset > wm.lowOffset) this.ends.set(p.id, wm.highOffset);
    }
    this.consumer.assign(t.partitions.map((p) => ({ topic: this.opts.topic, partition: p.id, offset: OFFSET_BEGINNING })));
    this.problem = undefined;
    this.checkCaughtUp();
    this.reading = this.read();
  }

  private checkCaughtUp(): void {
    if (!this.caughtUp && this.ends.size === 0) {
      this.caughtUp = true;
      this.opts.onCaughtUp?.();
    }
  }

  private async read(): Promise<void> {
    this.consumer.setDefaultConsumeTimeout(this.opts.pollMs ?? 100);
    while (!this.stopped) {
      let messages: Kafka.Message[];
      try {
        messages = await new Promise((resolve, reject) => this.consumer.consume(500, (err, m) => (err ? reject(err) : resolve(m))));
      } catch (err) {
        if (this.stopped) return;
        this.opts.log.warn({ err }, 'kafka follower read failed; retrying');
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      for (const m of messages) {
        this.opts.onMessage(m);
        const end = this.ends.get(m.partition);
        if (end !== undefined && m.offset + 1 >= end) this.ends.delete(m.partition);
      }
      // Nothing more to read: where the last offsets before the end hold no record (compaction), the
      // position has still passed them.
      if (messages.length === 0 && this.ends.size > 0) {
        for (const p of this.consumer.position([...this.ends.keys()].map((partition) => ({ topic: this.opts.topic, partition })))) {
          if (p.offset >= (this.ends.get(p.partition) ?? Infinity)) this.ends.delete(p.partition);
        }
      }
      this.checkCaughtUp();
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.stopRetrying?.();
    await this.reading;
    if (this.consumer.isConnected()) await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()));
  }
}
