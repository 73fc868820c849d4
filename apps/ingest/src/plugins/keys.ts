import fp from 'fastify-plugin';
import { TopicFollower } from '@playlog/kafka';
import { apiKeyHash, readFeedRecord, type FeedRejection, type KeySnapshot } from '@playlog/schema';
import { Counter, Gauge } from 'prom-client';
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
 * The API keys ingest accepts: the latest verified snapshot of the key feed (libs/schema key-feed), every
 * active key's hash with its client, in memory. A lookup is a map access, so no request, however many
 * junk keys it is part of, reaches a database, and none can evict a good key. Only a snapshot newer
 * (by generation) than the one held replaces it, whole: a key it does not list is gone. The table is
 * trusted only for `staleMs` after the held snapshot was issued (the core confirming it against
 * Postgres): past that, a key revoked meanwhile might still be in it, so every key gets 503 until a
 * newer snapshot arrives.
 */
export class KeyTable {
  private byHash = new Map<string, Principal>();
  /**
   * The principals of the valid keys presented lately, by the key itself: a key's SHA-256 was 2.6 % of
   * ingest's main thread on the 1.2 route (one play a request; bench/ingest profile). In this process's
   * memory only (like the key on its way through a request); only keys found in the table get in, so
   * junk cannot fill it; emptied on every new snapshot (a revocation applies at once) and when it
   * reaches MEMO_LIMIT keys.
   */
  private readonly memo = new Map<string, Principal>();
  private held: { generation: number; issuedAt: number } | undefined;
  private loaded = false;

  constructor(
    private readonly staleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a verified snapshot if it is newer than the one held; returns false (changing nothing) if not. */
  apply(snapshot: KeySnapshot): boolean {
    if (this.held && snapshot.generation <= this.held.generation) return false;
    const byHash = new Map<string, Principal>();
    for (const k of snapshot.keys) byHash.set(k.hash, { id: k.id, client: k.client, name: k.name });
    this.byHash = byHash;
    this.memo.clear();
    this.held = { generation: snapshot.generation, issuedAt: snapshot.issuedAt };
    return true;
  }

  /** The generation and issue time of the snapshot held, if any. */
  get snapshot(): { generation: number; issuedAt: number } | undefined {
    return this.held;
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
    if (this.held === undefined) {
      return {
        ok: false,
        why: `no verified key snapshot on KAFKA_KEYS_TOPIC=${topic} yet: the core publishes one every KEY_SYNC_SECONDS, signed with the key KEY_FEED_PUBLIC_KEY_FILE verifies`,
      };
    }
    const age = this.now() - this.held.issuedAt;
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
    const registry = app.metrics.registry;
    const rejected = new Counter({
      name: 'playlog_key_feed_records_rejected_total',
      help: 'Key-feed records that changed nothing: unsigned, malformed, signed by an unknown key, a bad signature, issued in the future, or not newer than the snapshot held (a replay)',
      labelNames: ['reason'],
      registers: [registry],
    });
    const reasons: FeedRejection[] = ['unsigned', 'malformed', 'unknown_signer', 'bad_signature', 'from_future', 'not_newer'];
    for (const reason of reasons) rejected.inc({ reason }, 0);
    new Gauge({
      name: 'playlog_key_feed_generation',
      help: 'Generation of the key snapshot held (0: none yet)',
      registers: [registry],
      aggregator: 'min',
      collect() {
        this.set(table.snapshot?.generation ?? 0);
      },
    });
    new Gauge({
      name: 'playlog_key_feed_age_seconds',
      help: 'Seconds since the key snapshot held was issued at the core (keyed requests get 503 past KEY_STALE_SECONDS); absent before the first',
      registers: [registry],
      aggregator: 'max',
      collect() {
        const held = table.snapshot;
        this.reset();
        if (held) this.set((Date.now() - held.issuedAt) / 1000);
      },
    });
    // Logged, but not endlessly: an old feed's unsigned records, or a flood of forged ones, are counted.
    const warned = new Map<FeedRejection, number>();
    const reject = (reason: FeedRejection, detail: string, m: { partition: number; offset: number }) => {
      rejected.inc({ reason });
      const n = (warned.get(reason) ?? 0) + 1;
      warned.set(reason, n);
      if (n <= 5 || n % 1000 === 0)
        log.warn({ reason, detail, partition: m.partition, offset: m.offset, seen: n }, 'key feed record rejected');
    };
    const follower = new TopicFollower({
      cluster: cfg.kafka,
      topic: cfg.kafkaKeysTopic,
      clientId: 'playlog-ingest-keys',
      log,
      onMessage: (m) => {
        const record = readFeedRecord(m.key, m.value, cfg.keyFeedVerifiers, Date.now(), cfg.clockSkewSeconds * 1000);
        if (record.kind === 'rejected') return reject(record.reason, record.detail, m);
        const held = table.snapshot?.generation;
        if (!table.apply(record.snapshot)) {
          return reject('not_newer', `snapshot ${record.snapshot.generation}, not newer than the one held (${held})`, m);
        }
        log.debug({ generation: record.snapshot.generation, keys: table.size }, 'key snapshot applied');
      },
      onCaughtUp: () => {
        table.markLoaded();
        log.info(
          { keys: table.size, generation: table.snapshot?.generation, topic: cfg.kafkaKeysTopic },
          'API keys loaded from the key feed',
        );
      },
    });
    follower.start();
    app.decorate('keys', table);
    app.decorate('keyFeed', follower);
    app.addHook('onClose', async () => {
      await follower.close();
    });
  },
  { name: 'keys', dependencies: ['metrics'] },
);

declare module 'fastify' {
  interface FastifyInstance {
    keyFeed: TopicFollower;
  }
}
