import fp from 'fastify-plugin';
import { Codes, HttpError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    rateLimit: ClientRateLimit;
  }
}

/**
 * Per-client token bucket counted in plays, not requests: a 10 000-play bulk request costs 10 000.
 * Buckets live in the pod (the limit is per pod; the HPA's replica count multiplies it). Over the
 * limit, the request gets 429 with the seconds until enough plays are available again.
 */
export class ClientRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `plays` tokens from the client's bucket or throws a 429. */
  take(client: string, plays: number): void {
    if (this.ratePerSecond <= 0) return;
    const b = this.refill(client);
    if (plays <= b.tokens) {
      b.tokens -= plays;
      return;
    }
    this.refuse(plays > this.burst ? Math.ceil(plays / this.ratePerSecond) : Math.ceil((plays - b.tokens) / this.ratePerSecond));
  }

  /**
   * Throws the 429 that any request of the client would get now, before its body is read: a bucket
   * without a whole play left refuses every request. Under overload this saves parsing the bodies of
   * requests that are refused anyway.
   */
  refuseIfEmpty(client: string): void {
    if (this.ratePerSecond <= 0) return;
    const b = this.refill(client);
    if (b.tokens < 1) this.refuse(Math.ceil((1 - b.tokens) / this.ratePerSecond));
  }

  private refill(client: string): { tokens: number; at: number } {
    const now = this.now();
    const b = this.buckets.get(client) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSecond);
    b.at = now;
    this.buckets.set(client, b);
    return b;
  }

  private refuse(waitSeconds: number): never {
    throw new HttpError(429, Codes.rateLimited, `client over its rate limit of ${this.ratePerSecond} plays/s; retry in ${waitSeconds} s`, {
      'Retry-After': String(Math.max(1, waitSeconds)),
    });
  }
}

export default fp(
  async (app, opts: { playsPerSecond: number; burstPlays: number; now?: () => number }) => {
    const limit = new ClientRateLimit(opts.playsPerSecond, opts.burstPlays, opts.now);
    app.decorate('rateLimit', limit);
    // After authentication (onRequest), before the body is read and parsed.
    // A callback hook (no promise per request); a refusal is thrown to Fastify's error path.
    app.addHook('preParsing', (req, _reply, payload, done) => {
      if (req.principal) limit.refuseIfEmpty(req.principal.client);
      done(null, payload);
    });
  },
  { name: 'rate-limit', dependencies: ['auth'] },
);
