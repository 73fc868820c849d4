// Reading a topic back for verification, and writing one fast for pre-filling.
import Kafka from 'node-rdkafka';
import { decodePlays } from '@playlog/schema';
import { stack, uniqueName } from './common.mjs';

function cb2p(fn) {
  return new Promise((res, rej) => fn((err, v) => (err ? rej(err) : res(v))));
}

/** Low and high watermarks of every partition of a topic. */
export async function watermarks(topic) {
  const c = new Kafka.KafkaConsumer(
    { ...stack.kafka.settings, 'metadata.broker.list': stack.brokers, 'group.id': uniqueName('bench-wm') },
    {},
  );
  await cb2p((cb) => c.connect({ timeout: 10_000 }, cb));
  try {
    const meta = await cb2p((cb) => c.getMetadata({ topic, timeout: 10_000 }, cb));
    const t = meta.topics.find((x) => x.name === topic);
    const out = [];
    for (const p of t.partitions) {
      const wm = await cb2p((cb) => c.queryWatermarkOffsets(topic, p.id, 10_000, cb));
      out.push({ partition: p.id, low: wm.lowOffset, high: wm.highOffset });
    }
    return out;
  } finally {
    await new Promise((res) => c.disconnect(() => res()));
  }
}

/**
 * The committed offsets of consumer group `groupId` on `topic`, asked over one connection kept open (a
 * client per question costs the broker a TLS handshake each time, which a bench polling every 250 ms
 * would charge to what it measures). `committed()` gives one offset per partition (-1001: none yet);
 * `close()` when done.
 */
export async function committedPoller(topic, groupId) {
  const c = new Kafka.KafkaConsumer(
    { ...stack.kafka.settings, 'metadata.broker.list': stack.brokers, 'group.id': groupId, 'enable.auto.commit': false },
    {},
  );
  await cb2p((cb) => c.connect({ timeout: 10_000 }, cb));
  const meta = await cb2p((cb) => c.getMetadata({ topic, timeout: 10_000 }, cb));
  const toppars = meta.topics.find((x) => x.name === topic).partitions.map((p) => ({ topic, partition: p.id }));
  let closing;
  return {
    async committed() {
      const got = await cb2p((cb) => c.committed(toppars, 10_000, cb));
      return got.map((x) => ({ partition: x.partition, committed: x.offset }));
    },
    close() {
      closing ??= new Promise((res) => c.disconnect(() => res()));
      return closing;
    },
  };
}

/**
 * Reads every message of a topic (from its low to its high watermark, as they stand now) and returns
 * how many messages and plays there were and the set of the plays' ids (decoded from the values).
 */
export async function readTopicPlayIds(topic, timeoutMs = 180_000) {
  const wms = await watermarks(topic);
  const c = new Kafka.KafkaConsumer(
    {
      ...stack.kafka.settings,
      'metadata.broker.list': stack.brokers,
      'group.id': uniqueName('bench-reader'),
      'enable.auto.commit': false,
      'enable.partition.eof': false,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  await cb2p((cb) => c.connect({ timeout: 10_000 }, cb));
  const ids = new Set();
  let count = 0;
  let plays = 0;
  try {
    const todo = new Map(wms.filter((w) => w.high > w.low).map((w) => [w.partition, w.high]));
    c.assign(wms.filter((w) => w.high > w.low).map((w) => ({ topic, partition: w.partition, offset: w.low })));
    c.setDefaultConsumeTimeout(500);
    const deadline = Date.now() + timeoutMs;
    while (todo.size > 0) {
      if (Date.now() > deadline) throw new Error(`reading ${topic} timed out with ${todo.size} partition(s) left`);
      const msgs = await cb2p((cb) => c.consume(10_000, cb));
      for (const m of msgs) {
        count++;
        for (const p of decodePlays(m.value).plays) {
          plays++;
          ids.add(p.playId);
        }
        const high = todo.get(m.partition);
        if (high !== undefined && m.offset + 1 >= high) todo.delete(m.partition);
      }
    }
  } finally {
    await new Promise((res) => c.disconnect(() => res()));
  }
  return { count, plays, ids };
}

/**
 * A plain producer for pre-filling a topic as ingest writes it (no key, acks=all, idempotent).
 * `produce(topic, key, value, headers)` applies back-pressure on a full queue.
 */
export async function fastProducer() {
  const p = new Kafka.Producer(
    {
      ...stack.kafka.settings,
      'metadata.broker.list': stack.brokers,
      'client.id': 'playlog-bench-prefill',
      'enable.idempotence': true,
      'compression.type': 'lz4',
      'linger.ms': 20,
      'batch.num.messages': 10_000,
      'queue.buffering.max.messages': 500_000,
      'queue.buffering.max.kbytes': 524_288,
      dr_cb: true,
    },
    { 'request.required.acks': -1 },
  );
  let failed;
  let delivered = 0;
  p.on('delivery-report', (err) => {
    if (err) failed ??= err;
    else delivered++;
  });
  await cb2p((cb) => p.connect({ timeout: 10_000 }, cb));
  p.setPollInterval(20);
  return {
    async produce(topic, key, value, headers) {
      for (;;) {
        try {
          p.produce(topic, null, value, key, Date.now(), undefined, headers);
          return;
        } catch (err) {
          if (err.code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw err;
          await new Promise((res) => setTimeout(res, 20));
        }
      }
    },
    /** Flushes and disconnects; the caller checks the topic's watermarks for the count. */
    async close() {
      await cb2p((cb) => p.flush(120_000, cb));
      p.poll(); // dispatch the last delivery reports
      await new Promise((res) => p.disconnect(() => res()));
      if (failed) throw new Error(`prefill: a message was not delivered: ${failed.message}`);
      return delivered;
    },
  };
}
