import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * A gate marker: the reporter writes one to every partition of the topic where plays are first
 * acknowledged (the edge's, in two sites) when a run starts. Kafka keeps order within a partition, and
 * MirrorMaker keeps partitions and their order, so once the loader has stored everything before the
 * marker of every partition, every play acknowledged before the run is in Postgres. The loader records
 * the markers it passes (libs/db gate marks); the reporter waits for all of them.
 *
 * Ingest writes that topic too, so a marker carries a MAC (HMAC-SHA256 over its run, partition and time)
 * made with a secret only the reporter and the loader hold (GATE_SECRET_FILE): a marker anyone else
 * wrote, or one copied into another partition, is not recorded and releases no gate.
 *
 *   {"v":"gate","run":"<uuid>","p":<partition>,"at":"<ISO>","mac":"<base64>"}
 */
export interface GateMarker {
  run: string;
  partition: number;
  at: string;
  mac: string;
}

/** The gate's secret from its file's text: base64 of at least 32 random bytes (the local stack makes one). */
export function gateSecret(text: string | Buffer): KeyObject {
  const bytes = Buffer.from(text.toString().trim(), 'base64');
  if (bytes.length < 32) throw new Error('the gate secret must be base64 of at least 32 bytes');
  return createSecretKey(bytes);
}

function mac(secret: KeyObject, run: string, partition: number, at: string): Buffer {
  return createHmac('sha256', secret).update(`gate\u0000${run}\u0000${partition}\u0000${at}`).digest();
}

/** The marker of run `run` for `partition`, as a message value. */
export function gateMarker(run: string, partition: number, secret: KeyObject, at = new Date()): Buffer {
  const iso = at.toISOString();
  return Buffer.from(
    JSON.stringify({ v: 'gate', run, p: partition, at: iso, mac: mac(secret, run, partition, iso).toString('base64') }),
    'utf8',
  );
}

/** Whether `marker`, read from `partition`, was made with `secret` for that partition. */
export function gateMarkerValid(marker: GateMarker, partition: number, secret: KeyObject): boolean {
  if (marker.partition !== partition) return false;
  const given = Buffer.from(marker.mac, 'base64');
  const want = mac(secret, marker.run, marker.partition, marker.at);
  return given.length === want.length && timingSafeEqual(given, want);
}
