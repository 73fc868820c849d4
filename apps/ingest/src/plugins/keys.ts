import fp from 'fastify-plugin';
import { TopicFollower } from '@playlog/kafka';
import { apiKeyHash, decodeFeedRecord, type FeedRecord } from '@playlog/schema';
import type { IngestConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    keys: KeyTable;
  }
}

/** Who a request's key belongs to. */
export interface Principal {
  id: number;
  client: string;
  name: string;
}

export type KeysUsable = { ok: true } | { ok: false; why: string };

/** How many presented keys KeyTable remembers (a pod sees few distinct valid keys: one or two a client). */
const MEMO_LIMIT = 1_000;

/**
 * The API keys ingest accepts, as the key feed carries them (libs/schema key-feed): every key's hash
 * with its client, kept in memory. A lookup is a map access, so no request, however many junk keys it
 * is part of, reaches a database, and none can evict a good key. The table is trusted only for
 * `staleMs` after the feed's last heartbeat (the core confirming it against Postgres): past that, a key
 * revoked meanwhile might still be in it, so every key gets 503 until the feed speaks again.
 */
export class KeyTable {
  private readonly byHash = new Map<string, Principal>();
  /**
   * The principals of the valid keys presented lately, by the key itself: a key's SHA-256 was 2.6 % of
   * ingest's main thread on the 1.2 route (one play a request; bench/ingest profile). In this process's
   * memory only (like the key on its way through a request); only keys found in the table get in, so
   * junk cannot fill it; emptied on every change of a key (a revocation applies at once) and when it
   * reaches MEMO_LIMIT keys.
   */
  private readonly memo = new Map<string, Principal>();
  private heartbeatAt: number | undefined;
  private loaded = false;

  constructor(
    private readonly staleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  apply(record: FeedRecord): void {
    if (record.kind === 'heartbeat') this.heartbeatAt = Math.max(this.heartbeatAt ?? 0, record.at);
    else if (record.kind === 'key') {
      this.memo.clear();
      if (record.revoked) this.byHash.delete(record.hash);
      else this.byHash.set(record.hash, { id: record.id, client: record.client, name: record.name });
    }
  }

  /** The feed has been read to the end once (set by the follower). */
  markLoaded(): void {
    this.loaded = true;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Whether keys can be checked now, and if not, why (readiness reasons, 503 messages). */
  usable(topic: string): KeysUsable {
    if (!this.loaded) return { ok: false, why: `API keys are still loading from KAFKA_KEYS_TOPIC=${topic}` };
    if (this.heartbeatAt === undefined) {
      return {
        ok: false,
        why: `no heartbeat on KAFKA_KEYS_TOPIC=${topic} yet: the loader at the core publishes the keys every KEY_SYNC_SECONDS`,
      };
    }
    const age = this.now() - this.heartbeatAt;
    if (age > this.staleMs) {
      return {
        ok: false,
        why: `API keys last confirmed ${Math.round(age / 1000)} s ago, over KEY_STALE_SECONDS=${this.staleMs / 1000} (is the loader at the core running, and the link up?)`,
      };
    }
    return { ok: true };
  }

  /** The principal of a well-formed key, or undefined for an unknown or revoked one. */
  find(key: string): Principal | undefined {
    const seen = this.memo.get(key);
    if (seen) return seen;
    const found = this.byHash.get(apiKeyHash(key));
    if (found) {
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(key, found);
    }
    return found;
  }
}

/**
 * The key table, filled by following the key feed topic from its beginning (TopicFollower). Starts at
 * once: until the feed has been read and a fresh heartbeat seen, the app is not ready and keyed
 * requests get 503 (see auth.ts).
 */
export default fp(
  async (app, opts: { config: IngestConfig }) => {
    const cfg = opts.config;
    const table = new KeyTable(cfg.keyStaleSeconds * 1000);
    const log = app.log.child({ component: 'key-feed' });
    let invalid = 0;
    const follower = new TopicFollower({
      brokers: cfg.kafkaBrokers,
      topic: cfg.kafkaKeysTopic,
      clientId: 'playlog-ingest-keys',
      log,
      onMessage: (m) => {
        const record = decodeFeedRecord(m.key, m.value);
        if (record.kind === 'invalid') {
          // A bad record is skipped (the rest of the feed still counts); logged, but not endlessly.
          if (invalid++ < 10) log.warn({ reason: record.reason, partition: m.partition, offset: m.offset }, 'key feed record skipped');
          return;
        }
        table.apply(record);
      },
      onCaughtUp: () => {
        table.markLoaded();
        log.info({ keys: table.size, topic: cfg.kafkaKeysTopic }, 'API keys loaded from the key feed');
      },
    });
    follower.start();
    app.decorate('keys', table);
    app.decorate('keyFeed', follower);
    app.addHook('onClose', async () => {
      await follower.close();
    });
  },
  { name: 'keys' },
);

declare module 'fastify' {
  interface FastifyInstance {
    keyFeed: TopicFollower;
  }
}
