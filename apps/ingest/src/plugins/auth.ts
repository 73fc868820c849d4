import fp from 'fastify-plugin';
import { keysRepository, type ActiveKey } from '@playlog/db';
import type { FastifyRequest } from 'fastify';
import { Codes, HttpError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: ActiveKey;
  }
  interface FastifyContextConfig {
    /** Routes marked public skip authentication (probes, metrics, docs). */
    public?: boolean;
  }
}

/** The key from `Authorization: Bearer <key>`, or 7digital's `oauth_consumer_key` query parameter. */
export function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1] : undefined;
  }
  const q = (req.query as Record<string, unknown> | undefined)?.oauth_consumer_key;
  return typeof q === 'string' && q.length > 0 ? q : undefined;
}

/**
 * API-key authentication for every /1.2 and /v1 route. Keys are looked up through a small cache, so the
 * hot path does not hit Postgres per request; a revoked key stops working within `cacheSeconds`.
 */
export default fp(
  async (app, opts: { cacheSeconds: number; retryAfter: string }) => {
    const keys = keysRepository(app.db);
    const ttlMs = opts.cacheSeconds * 1000;
    const cache = new Map<string, { key: ActiveKey | undefined; until: number }>();
    const MAX_ENTRIES = 10_000;

    // Lookups in progress, by key: when an entry expires under load, hundreds of requests miss it at
    // once; they share one query instead of each taking a pool connection (seen in bench/ingest's
    // overload run: the pool ran dry and requests waited seconds for it).
    const inFlight = new Map<string, Promise<ActiveKey | undefined>>();
    function findActive(key: string): Promise<ActiveKey | undefined> {
      let p = inFlight.get(key);
      if (!p) {
        p = keys.findActive(key).finally(() => inFlight.delete(key));
        inFlight.set(key, p);
      }
      return p;
    }

    async function lookup(key: string, retryAfter: string): Promise<ActiveKey | undefined> {
      const now = Date.now();
      const hit = cache.get(key);
      if (hit && hit.until > now) return hit.key;
      let found: ActiveKey | undefined;
      try {
        found = await findActive(key);
      } catch (err) {
        // Postgres unreachable: a key seen recently keeps its last answer (plays still reach Kafka,
        // which does not need the database); an unknown key cannot be checked, so the client retries.
        if (hit) return hit.key;
        app.log.warn({ err: { message: (err as Error).message } }, 'API key lookup failed');
        throw new HttpError(503, Codes.authUnavailable, 'cannot check the API key right now; nothing was accepted, retry later', {
          'Retry-After': retryAfter,
        });
      }
      if (cache.size >= MAX_ENTRIES) cache.clear(); // bounded: unknown keys can't grow it without limit
      if (ttlMs > 0) cache.set(key, { key: found, until: now + ttlMs });
      return found;
    }

    app.decorateRequest('principal', undefined as unknown as ActiveKey);
    app.addHook('onRequest', async (req) => {
      if (req.routeOptions.config.public || !req.routeOptions.url) return;
      const key = presentedKey(req);
      if (!key) throw new HttpError(401, Codes.unauthorized, 'missing API key: send Authorization: Bearer <key>');
      if (key.length > 256) throw new HttpError(401, Codes.unauthorized, 'unknown or revoked API key');
      const found = await lookup(key, opts.retryAfter);
      if (!found) throw new HttpError(401, Codes.unauthorized, 'unknown or revoked API key');
      req.principal = found;
    });
  },
  { name: 'auth', dependencies: ['db'] },
);
