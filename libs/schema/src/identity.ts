import { hash } from 'node:crypto';

/**
 * A play's identity: the client's own `playId` when it sends one, otherwise the client, log type,
 * user, track and the exact instant played. Hashed into a UUID (version 8, RFC 9562's custom layout)
 * so it is compact as a Postgres key (and as the dead-letter message key of a play the loader refuses). Scoped by client, so one client's
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
  // Hex output: Node makes a string of it far faster than a Buffer (0.3 against 1.3 µs a play here).
  const h = hash('sha256', material, 'hex');
  // Version 8 in the 13th hex digit; the RFC 9562 variant (binary 10xx) in the 17th.
  const variant = VARIANT[parseInt(h[16]!, 16) & 3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const VARIANT = '89ab';
