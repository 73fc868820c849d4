/**
 * Test support for the integration and end-to-end tiers: a fresh database and a fresh topic per test
 * (on the real local stack), polling, child processes. Never a fake broker or database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { KeyObject } from 'node:crypto';
import { databaseUrlAs, secretFile, type Principal } from '@playlog/config';
import { kafkaAs, stack } from './stack.js';
import { createPool, keysRepository, migrateLatest, readKeySnapshot, type Pool } from '@playlog/db';
import { deleteTopic, ensureTopic, DurableProducer, topicRanges, type KafkaCluster } from '@playlog/kafka';
import { feedSigningKey, gateSecret, normalizePlay, snapshotMessage, type Play } from '@playlog/schema';

/**
 * Play `i` of `client` at `dateTimePlayed` (ISO), normalised as ingest would: user `u<i>`, track `i`,
 * 40 s, GB, online subscription. `now` is when ingest received it (default: now).
 */
export function testPlay(client: string, i: number, dateTimePlayed: string, now = Date.now(), totalTimePlayed = 40): Play {
  const r = normalizePlay(
    {
      logType: 'subscription',
      userId: `u${i}`,
      country: 'GB',
      trackId: i,
      releaseId: 1,
      formatId: 1,
      playMode: 'online',
      dateTimePlayed,
      totalTimePlayed,
    },
    { client, apiKeyName: 'k', now, clockSkewMs: 0 },
  );
  if (!r.ok) throw new Error(r.error.message);
  return r.play;
}

/** Anything with tap's teardown; keeps this lib free of a test-framework dependency. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * Stand-in credentials for tests of configuration that build no connection (files that exist, not
 * certificates): an app's config is loaded with PLAYLOG_CREDENTIALS_DIR set to this.
 */
export const FIXTURE_CREDENTIALS = fileURLToPath(new URL('../fixtures/credentials', import.meta.url));

/** `url` (a database URL without a user) as `principal` connects with it: admin is the superuser. */
export function databaseAs(url: string, principal: Principal = 'admin'): string {
  return databaseUrlAs(principal, url, { PLAYLOG_CREDENTIALS_DIR: process.env.PLAYLOG_CREDENTIALS_DIR });
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A new database (on the single stack's Postgres, or `server`'s), owned by playlog_migrate and migrated
 * as it, dropped when the test ends. `url` names no user, so an app given it connects as its own role;
 * `db` is the admin's pool on it, for a test's fixtures and checks.
 */
export async function freshDatabase(t: Teardown, server = stack.databaseUrl): Promise<{ url: string; db: Pool }> {
  const name = uniqueName('playlog_t');
  const admin = createPool(databaseAs(server), 1, 'test-admin');
  await admin.query(`create database ${name} owner playlog_migrate`);
  const url = withDatabase(server, name);
  await migrateLatest(databaseAs(url, 'migrate'));
  const db = createPool(databaseAs(url), 4, 'test');
  t.teardown(async () => {
    await db.end();
    // Let the test's own connections finish closing first; force only what is left after 3 s.
    for (let i = 0; i < 30; i++) {
      const r = await admin.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
      if (r.rows[0]!.n === 0) break;
      await sleep(100);
    }
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  return { url, db };
}

/** Rows in `table` (optionally only those matching `where`, with its `params`). */
export async function countRows(db: Pool, table: string, where = 'true', params: unknown[] = []): Promise<number> {
  return (await db.query<{ n: number }>(`select count(*)::int as n from ${table} where ${where}`, params)).rows[0]!.n;
}

/**
 * What a test topic is for: its name starts with the role's name on the local stack and `-t-`, which is
 * where the local ACLs grant each principal what it has on the role's real topic (docs/security.md).
 */
const TOPIC_ROLES = { plays: 'play-logs', dlq: 'play-logs-dlq', keys: 'playlog-keys' } as const;

/** A fresh name for a test's topic or consumer group of `role`: `<role's name>-t-…` (docs/security.md). */
export function testName(role: keyof typeof TOPIC_ROLES | 'group'): string {
  return uniqueName(`${role === 'group' ? 'playlog-loader' : TOPIC_ROLES[role]}-t`).replaceAll('_', '-');
}

/** A new topic (plays unless `role` says otherwise), deleted when the test ends. */
export async function freshTopic(t: Teardown, partitions = 3, role: keyof typeof TOPIC_ROLES = 'plays'): Promise<string> {
  const topic = testName(role);
  await ensureTopic(stack.kafka, topic, partitions);
  t.teardown(() => deleteTopic(stack.kafka, topic).catch(() => undefined));
  return topic;
}

/** A key in the database only: ingest learns of it from a key feed (see freshKeyFeed). */
export async function createKey(db: Pool, client: string, name = 'test'): Promise<string> {
  return (await keysRepository(db).create(client, name)).key;
}

export interface KeyFeed {
  /** The feed's topic: ingest's KAFKA_KEYS_TOPIC. */
  topic: string;
  /** Creates a key in the database and publishes the feed, as the keys CLI does; returns the key. */
  create(client: string, name?: string): Promise<string>;
  /** Revokes a key in the database and publishes the feed, as the keys CLI does. */
  revoke(id: number): Promise<void>;
  /** Publishes a signed snapshot of the keys, as the loader does every KEY_SYNC_SECONDS. */
  publish(): Promise<void>;
}

/** A producer on the local broker (or `brokers`) for a test's own messages, closed when the test ends. */
export async function testProducer(t: Teardown, cluster = stack.kafka): Promise<DurableProducer> {
  const producer = new DurableProducer({ cluster, clientId: 'test', log: pino({ level: 'silent' }), registry: new Registry() });
  await producer.connect();
  t.teardown(() => producer.close());
  return producer;
}

/** The keys of `db` published to `topic` on `brokers`, as the keys CLI and the loader do. */
async function keyFeedOn(t: Teardown, db: Pool, cluster: KafkaCluster, topic: string): Promise<KeyFeed> {
  const producer = await testProducer(t, cluster);
  const keys = keysRepository(db);
  const publish = async () => producer.send(topic, [snapshotMessage(await readKeySnapshot(db), stackSigningKey())]);
  await publish();
  return {
    topic,
    publish,
    async create(client, name = 'test') {
      const { key } = await keys.create(client, name);
      await publish();
      return key;
    },
    async revoke(id) {
      await keys.revoke(id);
      await publish();
    },
  };
}

/** The local stack's key-feed signing key (what the loader and the keys CLI sign with). */
export function stackSigningKey(): KeyObject {
  return secretFile('KEY_FEED_SIGNING_KEY_FILE', 'key-feed.key', ([pem]) => feedSigningKey(pem!));
}

/** The local stack's gate secret (what the reporter makes its markers with and the loader checks them by). */
export function stackGateSecret(): KeyObject {
  return secretFile('GATE_SECRET_FILE', 'gate.secret', ([s]) => gateSecret(s!));
}

/** A fresh key-feed topic for the keys of `db`, published once (a snapshot, so ingest can be ready). */
export async function freshKeyFeed(t: Teardown, db: Pool): Promise<KeyFeed> {
  return keyFeedOn(t, db, stack.kafka, await freshTopic(t, 1, 'keys'));
}

const DAY_MS = 86_400_000;

/**
 * How long to wait at `now` until the next midnight UTC is more than `marginMs` away and the last one at
 * least `afterMs` ago: 0 most of the day, at most `marginMs + afterMs` once a day.
 */
export function midnightWaitMs(now: number, marginMs: number, afterMs = 2_000): number {
  const into = now % DAY_MS;
  if (into > DAY_MS - marginMs) return DAY_MS - into + afterMs;
  return into < afterMs ? afterMs - into : 0;
}

/** Waits out midnightWaitMs: for a test whose days (today, yesterday) must stay the same while it runs. */
export async function clearOfMidnightUtc(marginMs: number, afterMs = 2_000): Promise<void> {
  const ms = midnightWaitMs(Date.now(), marginMs, afterMs);
  if (ms > 0) await sleep(ms);
}

/** Polls `probe` until it returns a truthy value or the time runs out. */
export async function eventually<T>(probe: () => Promise<T> | T, timeoutMs = 30_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      // A probe that never settles must not hold the test past its deadline.
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the last probe did not answer')), Math.max(1_000, deadline - Date.now()));
      });
      const v = await Promise.race([Promise.resolve(probe()), stuck]).finally(() => clearTimeout(timer));
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a process with the given env on top of ours; stopped (SIGTERM) when the test ends. */
export function startProcess(t: Teardown, command: string, args: string[], env: Record<string, string>): RunningProcess {
  const child = spawn(command, args, { env: { ...process.env, PLAYLOG_LOG_PRETTY: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const running: RunningProcess = {
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  t.teardown(() => running.stop('SIGKILL'));
  return running;
}

/** Runs a command to completion; resolves with its exit code and output. */
export function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The loader as production runs it (npm run loader, the image): bundled by tools/build/bundle.mjs. */
export const LOADER_ENTRY = 'apps/loader/dist/bundle/main.js';

/**
 * Starts a built app (`ingest` or `loader`) as a process on a free (or given) port and waits for its
 * /readyz. Ingest also gets a free METRICS_PORT (unless `env` sets one). Stopped when the test ends.
 */
export async function startApp(
  t: Teardown,
  app: 'ingest' | 'loader',
  env: Record<string, string>,
  port?: number,
): Promise<{ proc: RunningProcess; port: number; base: string; metrics: string }> {
  const p = port ?? (await freePort());
  const portVar = app === 'ingest' ? 'PORT' : 'LOADER_PORT';
  const metricsPort = app === 'ingest' ? (env.METRICS_PORT ?? String(await freePort())) : String(p);
  const extra: Record<string, string> = app === 'ingest' ? { METRICS_PORT: metricsPort } : {};
  const entry = app === 'loader' ? LOADER_ENTRY : `apps/${app}/dist/main.js`;
  const proc = startProcess(t, 'node', [entry], { ...env, ...extra, [portVar]: String(p) });
  const base = `http://127.0.0.1:${p}`;
  await eventually(async () => (await fetch(`${base}/readyz`)).ok, 30_000, `${app} ready\n${proc.output()}`);
  return { proc, port: p, base, metrics: `http://127.0.0.1:${metricsPort}` };
}

/**
 * The two-site local stack (PLAYLOG_TOPOLOGY=two-site; tools/stack/two-site.sh): addresses, its stack
 * commands, and fresh topics that MirrorMaker carries across (its flows take the -t- test topics).
 */
const EDGE_BROKERS = '127.0.0.1:29091,127.0.0.1:29092,127.0.0.1:29093';
const CORE_BROKERS = '127.0.0.1:49092';
export const twoSite = {
  edgeBrokers: EDGE_BROKERS,
  coreBrokers: CORE_BROKERS,
  /** Each site's Kafka as the admin principal. */
  get edge(): KafkaCluster {
    return kafkaAs(EDGE_BROKERS);
  },
  get core(): KafkaCluster {
    return kafkaAs(CORE_BROKERS);
  },
  coreDatabaseUrl: 'postgres://127.0.0.1:45432/playlog',
  /** Runs `npm run stack -- …args` on the two-site stack. */
  stack(...args: string[]) {
    return run('bash', ['tools/stack/stack.sh', ...args], { PLAYLOG_TOPOLOGY: 'two-site' });
  },
};

/** Waits until `topic` exists on `brokers` (MirrorMaker creates a mirrored topic on its next pass). */
async function topicAppears(cluster: KafkaCluster, topic: string): Promise<void> {
  await eventually(async () => (await topicRanges(cluster, topic, 3_000)).length > 0, 60_000, `${topic} at ${cluster.brokers}`);
}

/**
 * A fresh plays topic at the edge as production has it (6 partitions, replication factor 3,
 * min.insync.replicas 2, no unclean election), and its mirror at the core once MirrorMaker has made it.
 */
export async function freshEdgeTopic(t: Teardown): Promise<{ edge: string; core: string }> {
  const edge = testName('plays');
  await ensureTopic(twoSite.edge, edge, 6, {
    replicationFactor: 3,
    config: { 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' },
  });
  const core = `edge.${edge}`;
  t.teardown(async () => {
    await deleteTopic(twoSite.edge, edge).catch(() => undefined);
    await deleteTopic(twoSite.core, core).catch(() => undefined);
  });
  await topicAppears(twoSite.core, core);
  return { edge, core };
}

/**
 * A fresh key feed at the core for the keys of `db` (`topic`), published, and its mirror at the edge
 * (`edge`: what ingest there reads) once MirrorMaker has carried it.
 */
export async function freshCoreKeyFeed(t: Teardown, db: Pool): Promise<KeyFeed & { edge: string }> {
  const core = testName('keys');
  await ensureTopic(twoSite.core, core, 1, { config: { 'cleanup.policy': 'compact' } });
  const edge = `core.${core}`;
  t.teardown(async () => {
    await deleteTopic(twoSite.core, core).catch(() => undefined);
    await deleteTopic(twoSite.edge, edge).catch(() => undefined);
  });
  const feed = await keyFeedOn(t, db, twoSite.core, core);
  await topicAppears(twoSite.edge, edge);
  return { ...feed, edge };
}
export { mixedPlays } from './plays.js';
export { readToEnd } from './topic.js';
export { kafkaAs, stack } from './stack.js';
