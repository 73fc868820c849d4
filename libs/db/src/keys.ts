import type { Pool, Queryable } from './connection.js';
import { apiKeyHash, apiKeyPrefix, CLIENT_NAME, generateApiKey, unsafeText, type KeySnapshot } from '@playlog/schema';

/** API keys: random, shown once, stored only as a SHA-256 hash. */
export interface ApiKeyRow {
  id: number;
  client: string;
  name: string;
  keyPrefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export function hashKey(key: string): Buffer {
  return Buffer.from(apiKeyHash(key), 'hex');
}

/**
 * The key feed's next snapshot (libs/schema key-feed): every active key, with a generation greater than
 * that of every snapshot read before it. The generation is taken under key_feed's row lock (migration
 * 008), and the keys are read after it in the same transaction, so a snapshot with a greater generation
 * always sees at least what a lesser one saw: a publisher that read before a revocation and publishes
 * after one that read since cannot undo it at the edge. Never below the clock in ms, so a database
 * restored from a backup still outnumbers what the edge holds.
 */
export async function readKeySnapshot(pool: Pool): Promise<KeySnapshot> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    const g = await c.query<{ generation: number; issued_at: Date }>(
      `update key_feed set generation = greatest(generation + 1, (extract(epoch from clock_timestamp()) * 1000)::bigint)
       returning generation, clock_timestamp() as issued_at`,
    );
    const keys = await c.query<{ id: number; client: string; name: string; key_hash: Buffer }>(
      'select id, client, name, key_hash from api_keys where revoked_at is null order by id',
    );
    await c.query('commit');
    return {
      generation: Number(g.rows[0]!.generation),
      issuedAt: g.rows[0]!.issued_at.getTime(),
      keys: keys.rows.map((r) => ({ hash: r.key_hash.toString('hex'), id: Number(r.id), client: r.client, name: r.name })),
    };
  } catch (err) {
    await c.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

export function keysRepository(db: Queryable) {
  return {
    async create(client: string, name: string): Promise<{ id: number; key: string }> {
      if (!CLIENT_NAME.test(client)) {
        throw new Error('client must be 1-63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');
      }
      const problem = name.length === 0 || name.length > 64 ? 'must be 1 to 64 characters' : unsafeText(name);
      if (problem) throw new Error(`name ${problem}`);
      const key = generateApiKey();
      const r = await db.query<{ id: number }>(
        'insert into api_keys (client, name, key_hash, key_prefix) values ($1, $2, $3, $4) returning id',
        [client, name, hashKey(key), apiKeyPrefix(key)],
      );
      return { id: r.rows[0]!.id, key };
    },

    async list(): Promise<ApiKeyRow[]> {
      const r = await db.query<ApiKeyRow>(
        'select id, client, name, key_prefix as "keyPrefix", created_at as "createdAt", revoked_at as "revokedAt" from api_keys order by id',
      );
      return r.rows;
    },

    /** Returns false when no such key exists or it was already revoked. */
    async revoke(id: number): Promise<boolean> {
      const r = await db.query('update api_keys set revoked_at = now() where id = $1 and revoked_at is null', [id]);
      return (r.rowCount ?? 0) > 0;
    },
  };
}
