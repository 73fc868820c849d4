import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '@playlog/db';
import { normalizePlay } from '@playlog/schema';
import { freePort } from '@playlog/testing';

/**
 * The fault suites' load and their oracle: clients that keep sending bulk requests of distinct plays,
 * and the identity of every play a client got a 2xx for (play ids are deterministic). After the faults,
 * every one of them must be in Postgres exactly once.
 */
export interface Oracle {
  /** Play ids of every play acknowledged (2xx) so far. */
  accepted: Set<string>;
  /** Responses by status, plus 'no answer'. */
  status: Map<string, number>;
  /** How many of the clients send, and how many plays per request; may change between phases. */
  load: { workers: number; batch: number };
  /** A phase of the run: what it did, how long, how many plays were acknowledged meanwhile. */
  phase(name: string, fn: () => Promise<void>): Promise<void>;
  phases: string[];
  /** Stops the clients and waits for their last requests. */
  stop(): Promise<void>;
}

export function startOracle(base: string, key: string, client: string, opts: { clients: number; workers: number; batch: number }): Oracle {
  const accepted = new Set<string>();
  const status = new Map<string, number>();
  const count = (k: string) => status.set(k, (status.get(k) ?? 0) + 1);
  const load = { workers: opts.workers, batch: opts.batch };
  let seq = 0;
  let running = true;
  const sender = async (w: number) => {
    while (running) {
      if (w >= load.workers) {
        await sleep(50);
        continue;
      }
      const now = Date.now();
      const plays = Array.from({ length: load.batch }, () => {
        const n = seq++;
        return {
          logType: 'subscription',
          userId: `u${n % 997}`,
          country: 'GB',
          trackId: n,
          releaseId: 1,
          formatId: 1,
          playMode: 'online',
          dateTimePlayed: new Date(now - 60_000 - (n % 1000)).toISOString(),
          totalTimePlayed: n % 120,
        };
      });
      try {
        const res = await fetch(`${base}/v1/play-logs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ plays }),
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        count(String(res.status));
        if (res.status === 202) {
          for (const p of plays) {
            const r = normalizePlay(p, { client, apiKeyName: 'x', now, clockSkewMs: 0 });
            if (r.ok) accepted.add(r.play.playId);
          }
        } else await sleep(100);
      } catch {
        count('no answer');
        await sleep(100);
      }
    }
  };
  const senders = Promise.all(Array.from({ length: opts.clients }, (_, w) => sender(w)));
  const phases: string[] = [];
  return {
    accepted,
    status,
    load,
    phases,
    async phase(name, fn) {
      const before = accepted.size;
      const started = Date.now();
      await fn();
      phases.push(`| ${name} | ${((Date.now() - started) / 1000).toFixed(1)} s | ${accepted.size - before} |`);
    },
    async stop() {
      running = false;
      await senders;
    },
  };
}

/** The oracle's verdict against the plays table, with the results table the suites print. */
export async function verdict(oracle: Oracle, db: Pool, client: string) {
  const stored = (await db.query<{ play_id: string }>('select play_id from plays where client = $1', [client])).rows;
  const storedIds = new Set(stored.map((r) => r.play_id));
  const lost = [...oracle.accepted].filter((id) => !storedIds.has(id)).length;
  const duplicated = stored.length - storedIds.size;
  const table = [
    '| phase | took | plays acknowledged during it |',
    '|---|---|---|',
    ...oracle.phases,
    '',
    `responses: ${[...oracle.status].map(([k, v]) => `${k}: ${v}`).join(', ')}`,
    `plays acknowledged (2xx): ${oracle.accepted.size}; rows stored: ${stored.length} (distinct ${storedIds.size}); acknowledged but lost: ${lost}; duplicated: ${duplicated}`,
  ].join('\n');
  return { lost, duplicated, table, otherServerErrors: [...oracle.status.keys()].some((k) => k.startsWith('5') && k !== '503') };
}

/**
 * Ingest at the edge of the two-site stack, as production runs it there: the edge's brokers, the
 * test's edge topic, the key feed's mirror, and the replication it must find on the topic.
 */
export async function edgeIngestEnv(edgeBrokers: string, topic: string, keysTopic: string): Promise<Record<string, string>> {
  return {
    KAFKA_BROKERS: edgeBrokers,
    KAFKA_TOPIC: topic,
    KAFKA_KEYS_TOPIC: keysTopic,
    KAFKA_REQUIRE_REPLICATION: 'true',
    PORT: String(await freePort()),
    METRICS_PORT: String(await freePort()),
    CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0',
    LOG_LEVEL: 'error',
  };
}
