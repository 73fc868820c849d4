// Baseline (c) for bench/loader: the straightforward consumer. Reads messages until it holds ROWS plays,
// writes them with ONE multi-row INSERT … ON CONFLICT DO NOTHING (node `pg`, autocommit), then commits
// the offsets synchronously; repeat. Env: KAFKA_BROKERS, KAFKA_TOPIC, KAFKA_GROUP_ID, DATABASE_URL, ROWS.
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { databaseUrlAs, kafkaClientConfig } from '@playlog/config';
import { PLAY_COLUMNS as COLUMNS } from '@playlog/db';
import { decodePlays } from '@playlog/schema';

const rowsPerInsert = Number(process.env.ROWS ?? 500);

const values = (p) => [
  p.playId,
  p.playedAt,
  p.client,
  p.apiKeyName,
  p.clientPlayId,
  p.logType,
  p.userId,
  p.country,
  p.trackId,
  p.releaseId,
  p.formatId,
  p.playMode,
  p.endReason,
  p.dateTimePlayed,
  p.totalTimePlayed,
  p.userAgent,
  p.synthetic,
  p.receivedAt,
];

function insertSql(n) {
  const rows = [];
  for (let r = 0; r < n; r++) rows.push(`(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(',')})`);
  return `insert into plays (${COLUMNS.join(',')}) values ${rows.join(',')} on conflict do nothing`;
}
const fullSql = insertSql(rowsPerInsert);

// As the loader's principal and role, as the loader connects (mutual TLS to both).
const db = new pg.Client({ connectionString: databaseUrlAs('loader', process.env.DATABASE_URL), application_name: 'playlog-bench-naive' });
await db.connect();

const consumer = new Kafka.KafkaConsumer(
  {
    ...kafkaClientConfig('loader').settings,
    'metadata.broker.list': process.env.KAFKA_BROKERS,
    'group.id': process.env.KAFKA_GROUP_ID,
    'enable.auto.commit': false,
    'enable.auto.offset.store': false,
    'fetch.wait.max.ms': 100,
  },
  { 'auto.offset.reset': 'earliest' },
);
await new Promise((res, rej) => consumer.connect({ timeout: 15_000 }, (err) => (err ? rej(err) : res())));
consumer.subscribe([process.env.KAFKA_TOPIC]);
consumer.setDefaultConsumeTimeout(100);

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => (stopping = true));

let perMessage = 1; // plays per message in the last read
while (!stopping) {
  const want = Math.max(1, Math.floor(rowsPerInsert / perMessage));
  const msgs = await new Promise((res, rej) => consumer.consume(want, (err, m) => (err ? rej(err) : res(m))));
  if (msgs.length === 0) continue;
  const plays = msgs.flatMap((m) => decodePlays(m.value).plays);
  perMessage = Math.max(1, plays.length / msgs.length);
  for (let i = 0; i < plays.length; i += rowsPerInsert) {
    const rows = plays.slice(i, i + rowsPerInsert);
    await db.query(rows.length === rowsPerInsert ? fullSql : insertSql(rows.length), rows.flatMap(values));
  }
  const next = new Map();
  for (const m of msgs) {
    const cur = next.get(m.partition);
    if (cur === undefined || m.offset + 1 > cur) next.set(m.partition, m.offset + 1);
  }
  consumer.commitSync([...next].map(([partition, offset]) => ({ topic: process.env.KAFKA_TOPIC, partition, offset })));
}
await new Promise((res) => consumer.disconnect(() => res()));
await db.end();
