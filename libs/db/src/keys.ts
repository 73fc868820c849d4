import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { CLIENT_NAME, unsafeText } from '@playlog/schema';

/** API keys: random, shown once, stored only as a SHA-256 hash. */
export interface ApiKeyRow {
  id: number;
  client: string;
  name: string;
  keyPrefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface ActiveKey {
  id: number;
  client: string;
  name: string;
}

const KEY_PREFIX = 'plk_';

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function keysRepository(db: Knex) {
  return {
    async create(client: string, name: string): Promise<{ id: number; key: string }> {
      if (!CLIENT_NAME.test(client)) {
        throw new Error('client must be 1-63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');
      }
      const problem = name.length === 0 || name.length > 64 ? 'must be 1 to 64 characters' : unsafeText(name);
      if (problem) throw new Error(`name ${problem}`);
      const key = generateKey();
      const [row] = await db('api_keys')
        .insert({ client, name, key_hash: hashKey(key), key_prefix: key.slice(0, KEY_PREFIX.length + 6) })
        .returning('id');
      return { id: (row as { id: number }).id, key };
    },

    async list(): Promise<ApiKeyRow[]> {
      const rows = await db('api_keys')
        .select('id', 'client', 'name', 'key_prefix as keyPrefix', 'created_at as createdAt', 'revoked_at as revokedAt')
        .orderBy('id');
      return rows as ApiKeyRow[];
    },

    /** Returns false when no such key exists or it was already revoked. */
    async revoke(id: number): Promise<boolean> {
      const n = await db('api_keys').where({ id }).whereNull('revoked_at').update({ revoked_at: db.fn.now() });
      return n > 0;
    },

    /** The active key whose hash matches, compared in constant time; undefined otherwise. */
    async findActive(key: string): Promise<ActiveKey | undefined> {
      const hash = hashKey(key);
      const row = (await db('api_keys')
        .select('id', 'client', 'name', 'key_hash')
        .where({ key_hash: hash })
        .whereNull('revoked_at')
        .first()) as { id: number; client: string; name: string; key_hash: Buffer } | undefined;
      if (!row || !timingSafeEqual(row.key_hash, hash)) return undefined;
      return { id: row.id, client: row.client, name: row.name };
    },
  };
}

export type KeysRepository = ReturnType<typeof keysRepository>;
