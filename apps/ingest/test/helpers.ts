import { gzipSync } from 'node:zlib';
import { createKey, freshDatabase, freshTopic, stack, type Teardown } from '@playlog/testing';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadIngestConfig } from '../src/config.js';

export interface IngestFixture {
  app: FastifyInstance;
  topic: string;
  key: string;
  keyB: string;
  db: Awaited<ReturnType<typeof freshDatabase>>['db'];
}

/** The real ingest app on the real broker and database, with a fresh topic and database. */
export async function ingestFixture(t: Teardown, env: Record<string, string> = {}): Promise<IngestFixture> {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t);
  const config = loadIngestConfig({ KAFKA_BROKERS: stack.brokers, KAFKA_TOPIC: topic, DATABASE_URL: url, KEY_CACHE_SECONDS: '1', ...env });
  const app = await buildApp(config);
  t.teardown(() => app.close());
  await app.ready();
  return { app, topic, db, key: await createKey(db, 'acme'), keyB: await createKey(db, 'globex') };
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
