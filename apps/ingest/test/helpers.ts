import { gzipSync } from 'node:zlib';
import { decodePlays, type Play } from '@playlog/schema';
import { eventually, freshDatabase, freshKeyFeed, freshTopic, readToEnd, stack, type KeyFeed, type Teardown } from '@playlog/testing';
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildOptions } from '../src/app.js';
import { loadIngestConfig } from '../src/config.js';

export interface IngestFixture {
  app: FastifyInstance;
  topic: string;
  key: string;
  keyB: string;
  /** The keys' database and feed: `feed.create` makes a key ingest accepts at once. */
  feed: KeyFeed;
}

/** The real ingest app on the real broker, with a fresh plays topic and a fresh key feed (from a fresh database). */
export async function ingestFixture(t: Teardown, env: Record<string, string> = {}, opts: BuildOptions = {}): Promise<IngestFixture> {
  const { db } = await freshDatabase(t);
  const topic = await freshTopic(t);
  const feed = await freshKeyFeed(t, db);
  const key = await feed.create('acme');
  const keyB = await feed.create('globex');
  const config = loadIngestConfig({ KAFKA_BROKERS: stack.brokers, KAFKA_TOPIC: topic, KAFKA_KEYS_TOPIC: feed.topic, ...env });
  const app = await buildApp(config, opts);
  t.teardown(() => app.close());
  await app.ready();
  await eventually(async () => (await app.inject('/readyz')).statusCode === 200, 30_000, 'ingest ready');
  return { app, topic, key, keyB, feed };
}

export const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

export function bulkPlay(over: Record<string, unknown> = {}) {
  return {
    logType: 'subscription',
    userId: 'user-1',
    country: 'GB',
    trackId: 101,
    releaseId: 201,
    formatId: 26,
    playMode: 'online',
    dateTimePlayed: minutesAgo(10),
    totalTimePlayed: 42,
    userAgent: 'AcmeApp/3.1 (Android 14)',
    ...over,
  };
}

export function v12Item(over: Record<string, unknown> = {}) {
  return {
    trackId: 101,
    releaseId: 201,
    formatId: 26,
    playMode: 'online',
    dateTimePlayed: minutesAgo(10),
    totalTimePlayed: 42,
    userAgent: 'AcmeApp/3.1',
    ...over,
  };
}

export const gz = (body: unknown) => gzipSync(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

/** Every play on the topic now (to its end offsets): what was acknowledged is there, nothing else. */
export async function readAllPlays(topic: string): Promise<Play[]> {
  return (await readToEnd(topic)).flatMap((m) => decodePlays(m.value).plays);
}
