import { hash } from 'node:crypto';

/**
 * A play's identity: the client's own `playId` when it sends one, otherwise the client, log type,
 * user, track and the exact instant played. Hashed into a UUID (version 8, RFC 9562's custom layout)
 * so it is compact as a Postgres key and as a Kafka message key. Scoped by client, so one client's
 * ids can never collide with another's.
 */
export interface IdentityParts {
  client: string;
  clientPlayId: string | null;
  logType: string;
  userId: string;
  trackId: number;
  instant: string;
}

export function playIdentity(p: IdentityParts): string {
  const material =
    p.clientPlayId !== null
      ? `id\u0000${p.client}\u0000${p.clientPlayId}`
      : `play\u0000${p.client}\u0000${p.logType}\u0000${p.userId}\u0000${p.trackId}\u0000${p.instant}`;
  const b = hash('sha256', material, 'buffer');
  b[6] = (b[6]! & 0x0f) | 0x80; // version 8
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const h = b.toString('hex', 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
