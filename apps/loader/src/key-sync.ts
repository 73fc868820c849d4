import type { KeyObject } from 'node:crypto';
import { type Pool, readKeySnapshot } from '@playlog/db';
import type { KafkaLogger, DurableProducer } from '@playlog/kafka';
import { snapshotMessage } from '@playlog/schema';
import type { Gauge } from 'prom-client';
import { periodic } from './periodic.js';

/**
 * Publishes the API keys to the key feed (libs/schema key-feed) every `everyMs`: a snapshot of every
 * active key as Postgres has it, signed with `signingKey`, its generation newer than every snapshot
 * before it. Ingest reads its keys from that topic and never from Postgres, so a key created or revoked
 * at the core reaches every ingest, at the edge too (through MirrorMaker), within one period. If
 * Postgres or Kafka fails, the next period tries again; ingest keeps its keys for KEY_STALE_SECONDS
 * after the last snapshot.
 */
export function keySync(
  pool: Pool,
  producer: DurableProducer,
  topic: string,
  signingKey: KeyObject,
  everyMs: number,
  log: KafkaLogger,
  lastSync: Gauge,
) {
  let failing = false;
  async function run(): Promise<void> {
    try {
      const snapshot = await readKeySnapshot(pool);
      await producer.send(topic, [snapshotMessage(snapshot, signingKey)]);
      lastSync.set(Date.now() / 1000);
      if (failing) log.info({ keys: snapshot.keys.length, generation: snapshot.generation, topic }, 'key feed published again');
      failing = false;
    } catch (err) {
      if (!failing) log.warn({ err, topic }, 'key feed not published; retrying every period');
      failing = true;
    }
  }
  return periodic(everyMs, run);
}
