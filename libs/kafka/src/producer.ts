import Kafka from 'node-rdkafka';

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { rdkafkaSettings, type KafkaCluster } from './cluster.js';
import { KafkaError, KAFKA_QUEUE_FULL, throttledWarn, unavailable, type KafkaLogger } from './errors.js';
import { retryConnect } from './retry.js';

export interface OutgoingMessage {
  /** The partitioning key; without one, librdkafka's sticky partitioner picks the partition. */
  key?: string;
  value: Buffer;
  /** Kafka headers, one single-entry object each (node-rdkafka's shape, passed through as is). */
  headers?: Kafka.MessageHeader[];
  /** What the message counts for against the in-flight bound, e.g. the plays it carries (default 1). */
  weight?: number;
  /** A partition of its own choosing; by default the key's hash picks it, or for a message without a key librdkafka's sticky partitioner. */
  partition?: number;
}

export interface ProducerOptions {
  cluster: KafkaCluster;
  clientId: string;
  log: KafkaLogger;
  registry: Registry;
  /** How long librdkafka keeps trying to deliver a message before failing it. */
  deliveryTimeoutMs?: number;
  /** Bound on the weight awaiting delivery (plays, for ingest); past it, send() fails fast with KAFKA_QUEUE_FULL. */
  maxInFlight?: number;
  /** How long librdkafka waits to fill a batch before sending it (latency against throughput). */
  lingerMs?: number;
  /** How often delivery reports are polled into JS; each report waits this long at most. */
  pollIntervalMs?: number;
  /** Batch compression (librdkafka's compression.type); default lz4. */
  compression?: Compression;
  /** Extra librdkafka settings (tests, tuning). */
  config?: Kafka.ProducerGlobalConfig;
}

export const COMPRESSIONS = ['zstd', 'lz4', 'gzip', 'snappy', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** Whether this process's librdkafka can write `codec` (zstd needs libzstd when node-rdkafka was built). */
export function compressionAvailable(codec: Compression): boolean {
  return codec === 'none' || Kafka.features.includes(codec);
}

export interface ProducerState {
  /** The broker answered recently (metadata or a delivery). */
  reachable: boolean;
  /** Weight (plays) waiting for a delivery report. */
  inFlight: number;
  /** Bound on inFlight. */
  maxInFlight: number;
  /** Why the producer is not connected yet, while it is not (see start). */
  problem?: string;
}

type Pending = { remaining: number; failed: Error | undefined; resolve: () => void; reject: (e: Error) => void };

/**
 * A producer whose `send` resolves only when the broker has durably taken every message (acks=all,
 * idempotence on) and rejects if any could not be written. Delivery reports are polled continuously,
 * so they always fire (node-rdkafka needs polling for that). Every part's producer: ingest's plays, the
 * loader's dead letters and key feed, the reporter's gate markers, the keys CLI.
 */
export class DurableProducer {
  private readonly producer: Kafka.Producer;
  private readonly log: KafkaLogger;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private reachable = false;
  private probe: NodeJS.Timeout | undefined;
  /** The metadata request of the probe in flight, if any: close waits for it before disconnecting. */
  private probing: Promise<void> | undefined;
  private problem: string | undefined;
  private stopRetrying: (() => void) | undefined;
  private readonly metrics;

  constructor(private readonly opts: ProducerOptions) {
    this.log = opts.log;
    this.maxInFlight = opts.maxInFlight ?? 200_000;
    this.producer = new Kafka.Producer(
      {
        ...rdkafkaSettings(opts.cluster, opts.clientId),
        'enable.idempotence': true,
        'compression.type': opts.compression ?? 'lz4',
        'linger.ms': opts.lingerMs ?? 5,
        'batch.num.messages': 10_000,
        // Every message weighs at least 1, so librdkafka's own bound is never the one that bites.
        'queue.buffering.max.messages': this.maxInFlight,
        'queue.buffering.max.kbytes': 262_144,
        'socket.keepalive.enable': true,
        'reconnect.backoff.max.ms': 2_000,
        dr_cb: true,
        ...opts.config,
      },
      // acks=all: a message counts as written only when every in-sync replica has it.
      { 'request.required.acks': -1, 'message.timeout.ms': opts.deliveryTimeoutMs ?? 10_000 },
    );
    const r = opts.registry;
    const inFlightNow = () => this.inFlight;
    this.metrics = {
      delivered: new Counter({ name: 'playlog_kafka_messages_delivered_total', help: 'Messages the broker confirmed', registers: [r] }),
      failed: new Counter({
        name: 'playlog_kafka_delivery_failures_total',
        help: 'Messages that could not be delivered',
        labelNames: ['reason'],
        registers: [r],
      }),
      latency: new Histogram({
        name: 'playlog_kafka_produce_duration_seconds',
        help: 'Time from produce to the last delivery report of a send()',
        buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [r],
      }),
      inFlight: new Gauge({
        name: 'playlog_kafka_producer_in_flight_plays',
        help: 'Plays (the weight of the messages) awaiting a delivery report',
        registers: [r],
        collect() {
          this.set(inFlightNow());
        },
      }),
      // Several ingest workers in a pod: the pod's figure is its least connected worker's.
      reachable: new Gauge({
        name: 'playlog_kafka_broker_reachable',
        help: '1 when the broker answered recently',
        registers: [r],
        aggregator: 'min',
      }),
    };
    for (const reason of ['queue_full', 'produce_error', 'timeout', 'broker']) this.metrics.failed.inc({ reason }, 0);
    this.producer.on('delivery-report', (err, report) => this.onDelivery(err, report));
    const warn = throttledWarn(this.log, 'kafka producer error');
    this.producer.on('event.error', (err) => {
      if (err.code === Kafka.CODES.ERRORS.ERR__ALL_BROKERS_DOWN || err.code === Kafka.CODES.ERRORS.ERR__TRANSPORT) {
        this.setReachable(false);
      }
      warn(err);
    });
  }

  async connect(timeoutMs = 15_000): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.producer.connect({ timeout: timeoutMs }, (err) =>
        err ? reject(unavailable(`cannot connect to Kafka at ${this.opts.cluster.brokers}: ${err.message}`, err)) : resolve(),
      );
    });
    this.producer.setPollInterval(this.opts.pollIntervalMs ?? 5);
    this.setReachable(true);
    // A cheap periodic metadata request tells readiness whether the broker is there, even when idle.
    this.probe = setInterval(() => this.checkBroker(), 2_000);
    this.probe.unref();
  }

  /**
   * Connects in the background, retrying until the broker answers (see retryConnect), so a process
   * can start, and say it is not ready, while Kafka is unreachable. `state().problem` says why meanwhile.
   */
  start(): void {
    this.problem = 'connecting';
    this.stopRetrying = retryConnect(
      async () => {
        await this.connect(5_000);
        this.problem = undefined;
      },
      this.log,
      `Kafka at ${this.opts.cluster.brokers}`,
      (why) => (this.problem = why),
    );
  }

  private checkBroker(): void {
    if (this.probing) return;
    this.probing = new Promise<void>((resolve) =>
      this.producer.getMetadata({ timeout: 1_500, allTopics: false }, (err) => {
        this.setReachable(!err);
        resolve();
      }),
    ).finally(() => (this.probing = undefined));
  }

  private setReachable(up: boolean): void {
    if (up !== this.reachable) this.log.info({ reachable: up }, up ? 'kafka reachable' : 'kafka unreachable');
    this.reachable = up;
    this.metrics.reachable.set(up ? 1 : 0);
  }

  state(): ProducerState {
    return { reachable: this.reachable, inFlight: this.inFlight, maxInFlight: this.maxInFlight, problem: this.problem };
  }

  /** Writes all messages; resolves when every one is acknowledged by the broker, rejects otherwise. */
  send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    let weight = 0;
    for (const m of messages) weight += m.weight ?? 1;
    if (this.inFlight + weight > this.maxInFlight) {
      this.metrics.failed.inc({ reason: 'queue_full' }, messages.length);
      return Promise.reject(new KafkaError(KAFKA_QUEUE_FULL, 'producer queue is full'));
    }
    const end = this.metrics.latency.startTimer();
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = {
        remaining: messages.length,
        failed: undefined,
        resolve: () => {
          end();
          resolve();
        },
        reject,
      };
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        try {
          // Each message carries its own settlement record as opaque, so its weight comes back with its report.
          this.producer.produce(
            topic,
            m.partition ?? null,
            m.value,
            m.key ?? null,
            Date.now(),
            { pending, weight: m.weight ?? 1 },
            m.headers,
          );
          this.inFlight += m.weight ?? 1;
        } catch (err) {
          // Synchronous refusal (queue full, unknown topic...): the rest of this batch is not sent; the
          // messages already queued settle through their delivery reports.
          const e = err as { code?: number; message?: string };
          const code = e.code === Kafka.CODES.ERRORS.ERR__QUEUE_FULL ? KAFKA_QUEUE_FULL : undefined;
          const notSent = messages.length - i;
          this.metrics.failed.inc({ reason: code ? 'queue_full' : 'produce_error' }, notSent);
          pending.failed ??= code
            ? new KafkaError(code, 'producer queue is full', { cause: err })
            : unavailable(`produce failed: ${e.message}`, err);
          pending.remaining -= notSent;
          if (pending.remaining === 0) pending.reject(pending.failed);
          return;
        }
      }
    });
  }

  private onDelivery(err: Kafka.LibrdKafkaError | null, report: Kafka.DeliveryReport): void {
    const sent = report.opaque as { pending: Pending; weight: number } | undefined;
    this.inFlight -= sent?.weight ?? 1;
    const pending = sent?.pending;
    if (err) {
      this.metrics.failed.inc({ reason: err.code === Kafka.CODES.ERRORS.ERR__MSG_TIMED_OUT ? 'timeout' : 'broker' });
      if (pending) pending.failed ??= unavailable(`Kafka did not take the message: ${err.message}`, err);
    } else {
      this.metrics.delivered.inc();
      if (!this.reachable) this.setReachable(true);
    }
    if (!pending) return;
    pending.remaining--;
    if (pending.remaining === 0) {
      if (pending.failed) pending.reject(pending.failed);
      else pending.resolve();
    }
  }

  /** Waits for queued messages to be delivered (or fail), then disconnects. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.stopRetrying?.();
    if (this.probe) clearInterval(this.probe);
    // A metadata request still in flight answers into the client: not disconnected under it. (A fresh
    // clone's CI once saw ingest's test process abort natively, 'pure virtual method called', while it
    // closed its clients; this is one race that could do it.)
    await this.probing;
    if (!this.producer.isConnected()) return;
    await new Promise<void>((resolve) => this.producer.flush(timeoutMs, () => resolve()));
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
  }
}
