import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { API_KEY_FORMAT } from '@playlog/schema';
import { Codes, HttpError } from '../errors.js';
import type { Principal } from './keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Routes marked public skip authentication (probes, docs). */
    public?: boolean;
    /** 7digital's routes: the key may come as the `oauth_consumer_key` query parameter. */
    queryKey?: boolean;
  }
}

/**
 * A key named `smoke` is for smoke tests: its plays are stored as synthetic and never reported. This
 * header asks for that explicitly; from any other key it is refused, so a real play is never sent by
 * a tool that believes it is sending a synthetic one.
 */
export const SYNTHETIC_HEADER = 'x-playlog-synthetic';
export const SMOKE_KEY_NAME = 'smoke';

export function isSmokeKey(p: Principal): boolean {
  return p.name === SMOKE_KEY_NAME;
}

/**
 * The key from `Authorization: Bearer <key>`, or, on 7digital's routes only, the `oauth_consumer_key`
 * query parameter their existing clients send.
 */
export function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1] : undefined;
  }
  const q = (req.query as Record<string, unknown> | undefined)?.oauth_consumer_key;
  if (typeof q !== 'string' || q.length === 0) return undefined;
  if (!req.routeOptions.config.queryKey) {
    throw new HttpError(
      401,
      Codes.unauthorized,
      'send the key as Authorization: Bearer <key>; oauth_consumer_key is for the 7digital 1.2 routes only',
    );
  }
  return q;
}

/**
 * API-key authentication for every /1.2 and /v1 route, against the key table (plugins/keys.ts): a key
 * not of the issued form is refused before any lookup; a well-formed one is a map lookup (by the key
 * among keys recently found, else by its hash).
 * While the table cannot be trusted (still loading, or not confirmed for KEY_STALE_SECONDS), keyed
 * requests get 503 with Retry-After: nothing is accepted that could not be checked.
 */
export default fp(
  async (app, opts: { keysTopic: string; retryAfter: string }) => {
    app.decorateRequest('principal', undefined as unknown as Principal);
    // A callback hook, not an async one: no promise and microtask per request (the check is synchronous).
    // What it throws, Fastify's hook runner hands to the error handler, as it would a rejection.
    app.addHook('onRequest', (req, _reply, done) => {
      if (req.routeOptions.config.public || !req.routeOptions.url) return done();
      const key = presentedKey(req);
      if (!key) throw new HttpError(401, Codes.unauthorized, 'missing API key: send Authorization: Bearer <key>');
      if (!API_KEY_FORMAT.test(key)) throw new HttpError(401, Codes.unauthorized, 'unknown or revoked API key');
      const usable = app.keys.usable(opts.keysTopic);
      if (!usable.ok) {
        throw new HttpError(
          503,
          Codes.authUnavailable,
          `cannot check API keys right now (${usable.why}); nothing was accepted, retry later`,
          {
            'Retry-After': opts.retryAfter,
          },
        );
      }
      const found = app.keys.find(key);
      if (!found) throw new HttpError(401, Codes.unauthorized, 'unknown or revoked API key');
      if (req.headers[SYNTHETIC_HEADER] !== undefined && !isSmokeKey(found)) {
        throw new HttpError(
          403,
          Codes.syntheticNotAllowed,
          `${SYNTHETIC_HEADER} is for keys named "${SMOKE_KEY_NAME}" only: this key's plays are real and reported; nothing was accepted`,
        );
      }
      req.principal = found;
      done();
    });
  },
  { name: 'auth', dependencies: ['keys'] },
);
