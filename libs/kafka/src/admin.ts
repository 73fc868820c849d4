import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import { rdkafkaSettings, type KafkaCluster } from './cluster.js';
import { KafkaError, KAFKA_ADMIN, KAFKA_OFFSETS } from './errors.js';

export interface TopicSettings {
  replicationFactor?: number;
  /** Topic configs, e.g. { 'min.insync.replicas': '2' }. */
  config?: Record<string, string>;
}

/** Creates a topic; succeeds quietly if it already exists. */
export async function ensureTopic(
  cluster: KafkaCluster,
  topic: string,
  partitions: number,
  settings: TopicSettings = {},
  timeoutMs = 15_000,
): Promise<void> {
  const admin = Kafka.AdminClient.create(rdkafkaSettings(cluster, 'playlog-admin'));
  try {
    await new Promise<void>((resolve, reject) =>
      admin.createTopic(
        // No `config` key at all when there is none: node-rdkafka aborts the process on `config: undefined`.
        {
          topic,
          num_partitions: partitions,
          replication_factor: settings.replicationFactor ?? 1,
          ...(settings.config ? { config: settings.config } : {}),
        },
        timeoutMs,
        (err) => {
          if (!err || err.code === Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) resolve();
          else reject(new KafkaError(KAFKA_ADMIN, `cannot create topic ${topic}: ${err.message}`, { cause: err }));
        },
      ),
    );
  } finally {
    admin.disconnect();
  }
}

export async function deleteTopic(cluster: KafkaCluster, topic: string, timeoutMs = 15_000): Promise<void> {
  const admin = Kafka.AdminClient.create(rdkafkaSettings(cluster, 'playlog-admin'));
  try {
    await new Promise<void>((resolve, reject) =>
      admin.deleteTopic(topic, timeoutMs, (err) => {
        if (!err || err.code === Kafka.CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART) resolve();
        else reject(new KafkaError(KAFKA_ADMIN, `cannot delete topic ${topic}: ${err.message}`, { cause: err }));
      }),
    );
  } finally {
    admin.disconnect();
  }
}

/**
 * A group id for a consumer that only reads metadata and offsets (librdkafka wants one; nothing joins
 * it): under the client id, so that the principal's Describe on its own group prefix covers it
 * (docs/security.md: `playlog-<app>-`).
 */
function probeGroup(clientId: string): string {
  return `${clientId}-${randomBytes(6).toString('hex')}`;
}

export interface GroupProgress {
  /** Per partition: the topic's end offset and the group's committed offset (-1001 when none). */
  partitions: { partition: number; end: number; committed: number }[];
}

/**
 * One node-rdkafka call as a promise, bounded: librdkafka passes its own timeouts, but a callback that
 * never comes (seen once under load, a whole test file waiting on a committed-offsets query) must
 * still fail the caller instead of hanging it (the reporter's gate, a test's poll).
 */
function call<T>(fn: (cb: (err: Kafka.LibrdKafkaError | null, v: T) => void) => void, what: string, limitMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new KafkaError(KAFKA_OFFSETS, `${what}: no answer within ${limitMs / 1000} s`)), limitMs);
    fn((err, v) => {
      clearTimeout(timer);
      if (err) reject(new KafkaError(KAFKA_OFFSETS, `${what}: ${err.message}`, { cause: err }));
      else resolve(v);
    });
  });
}

/** Disconnects without waiting more than a few seconds for librdkafka to say it has. */
function disconnect(c: Kafka.KafkaConsumer): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    c.disconnect(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * The topic's end offsets and a consumer group's committed offsets, read without joining the group
 * (the reporter's completeness gate uses this to know whether the loader has caught up).
 */
export async function groupProgress(cluster: KafkaCluster, topic: string, groupId: string, timeoutMs = 10_000): Promise<GroupProgress> {
  const c = new Kafka.KafkaConsumer(
    { ...rdkafkaSettings(cluster, 'playlog-progress'), 'group.id': groupId, 'enable.auto.commit': false },
    {},
  );
  await call<unknown>((cb) => c.connect({ timeout: timeoutMs }, (err, v) => cb(err, v)), 'connect');
  try {
    const meta = await call<Kafka.Metadata>((cb) => c.getMetadata({ topic, timeout: timeoutMs }, cb), 'metadata');
    const t = meta.topics.find((x) => x.name === topic);
    if (!t || t.partitions.length === 0) throw new KafkaError(KAFKA_OFFSETS, `topic ${topic} does not exist`);
    const toppars = t.partitions.map((p) => ({ topic, partition: p.id }));
    const committed = await call<Kafka.TopicPartitionOffset[]>((cb) => c.committed(toppars, timeoutMs, cb), 'committed offsets');
    const partitions = [];
    for (const tp of toppars) {
      const wm = await call<Kafka.WatermarkOffsets>((cb) => c.queryWatermarkOffsets(topic, tp.partition, timeoutMs, cb), 'watermarks');
      const cm = committed.find((x) => x.partition === tp.partition);
      partitions.push({ partition: tp.partition, end: wm.highOffset, committed: cm?.offset ?? -1001 });
    }
    return { partitions };
  } finally {
    await disconnect(c);
  }
}

export interface PartitionRange {
  partition: number;
  /** First offset still on the partition, and one past its last. Equal when it holds no record. */
  low: number;
  high: number;
}

/** Every partition of a topic with the offsets it holds now (watermarks), read without joining a group. */
export async function topicRanges(
  cluster: KafkaCluster,
  topic: string,
  timeoutMs = 10_000,
  clientId = 'playlog-ranges',
): Promise<PartitionRange[]> {
  const c = new Kafka.KafkaConsumer(
    { ...rdkafkaSettings(cluster, clientId), 'group.id': probeGroup(clientId), 'enable.auto.commit': false },
    {},
  );
  const brokers = cluster.brokers;
  await call<unknown>((cb) => c.connect({ timeout: timeoutMs }, (err, v) => cb(err, v)), `connect to ${brokers}`);
  try {
    const meta = await call<Kafka.Metadata>((cb) => c.getMetadata({ topic, timeout: timeoutMs }, cb), 'metadata');
    const t = meta.topics.find((x) => x.name === topic);
    if (!t || t.partitions.length === 0) throw new KafkaError(KAFKA_OFFSETS, `topic ${topic} does not exist at ${brokers}`);
    const out: PartitionRange[] = [];
    for (const p of t.partitions) {
      const wm = await call<Kafka.WatermarkOffsets>((cb) => c.queryWatermarkOffsets(topic, p.id, timeoutMs, cb), 'watermarks');
      out.push({ partition: p.id, low: wm.lowOffset, high: wm.highOffset });
    }
    return out.sort((a, b) => a.partition - b.partition);
  } finally {
    await disconnect(c);
  }
}

/** The broker id leading each partition of a topic (partition -> leader), from the cluster's metadata. */
export async function topicLeaders(cluster: KafkaCluster, topic: string, timeoutMs = 10_000): Promise<Map<number, number>> {
  const c = new Kafka.KafkaConsumer(
    { ...rdkafkaSettings(cluster, 'playlog-leaders'), 'group.id': probeGroup('playlog-leaders'), 'enable.auto.commit': false },
    {},
  );
  await call<unknown>((cb) => c.connect({ timeout: timeoutMs }, (err, v) => cb(err, v)), `connect to ${cluster.brokers}`);
  try {
    const meta = await call<Kafka.Metadata>((cb) => c.getMetadata({ topic, timeout: timeoutMs }, cb), 'metadata');
    const t = meta.topics.find((x) => x.name === topic);
    return new Map((t?.partitions ?? []).map((p) => [p.id, p.leader]));
  } finally {
    await disconnect(c);
  }
}

/** True when the group has committed up to (at least) the given end offsets on every partition. */
export function caughtUp(progress: GroupProgress, ends: GroupProgress['partitions']): boolean {
  return ends.every((e) => {
    if (e.end <= 0) return true; // nothing was ever written to this partition
    const p = progress.partitions.find((x) => x.partition === e.partition);
    return p !== undefined && p.committed >= e.end;
  });
}
