import Kafka from 'node-rdkafka';
import { KafkaError, KAFKA_ADMIN, KAFKA_OFFSETS } from './errors.js';

/** Creates a topic; succeeds quietly if it already exists. */
export async function ensureTopic(brokers: string, topic: string, partitions: number, timeoutMs = 15_000): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'metadata.broker.list': brokers, 'client.id': 'playlog-admin' });
  try {
    await new Promise<void>((resolve, reject) =>
      admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, timeoutMs, (err) => {
        if (!err || err.code === Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) resolve();
        else reject(new KafkaError(KAFKA_ADMIN, `cannot create topic ${topic}: ${err.message}`, { cause: err }));
      }),
    );
  } finally {
    admin.disconnect();
  }
}

export async function deleteTopic(brokers: string, topic: string, timeoutMs = 15_000): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'metadata.broker.list': brokers, 'client.id': 'playlog-admin' });
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

export interface GroupProgress {
  /** Per partition: the topic's end offset and the group's committed offset (-1001 when none). */
  partitions: { partition: number; end: number; committed: number }[];
}

function call<T>(fn: (cb: (err: Kafka.LibrdKafkaError | null, v: T) => void) => void, what: string): Promise<T> {
  return new Promise((resolve, reject) =>
    fn((err, v) => (err ? reject(new KafkaError(KAFKA_OFFSETS, `${what}: ${err.message}`, { cause: err })) : resolve(v))),
  );
}

/**
 * The topic's end offsets and a consumer group's committed offsets, read without joining the group
 * (the reporter's completeness gate uses this to know whether the loader has caught up).
 */
export async function groupProgress(brokers: string, topic: string, groupId: string, timeoutMs = 10_000): Promise<GroupProgress> {
  const c = new Kafka.KafkaConsumer({ 'metadata.broker.list': brokers, 'group.id': groupId, 'enable.auto.commit': false }, {});
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
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
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
