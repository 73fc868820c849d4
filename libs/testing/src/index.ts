/**
 * Test support for the integration and end-to-end tiers: a fresh database and a fresh topic per test
 * (on the real local stack), polling, child processes. Never a fake broker or database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { defaults } from '@playlog/config';
import { createDb, keysRepository, migrateLatest, type Knex } from '@playlog/db';
import { deleteTopic, ensureTopic, PlayProducer } from '@playlog/kafka';
import { keyFeedMessages } from '@playlog/schema';

/** Anything with tap's teardown; keeps this lib free of a test-framework dependency. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export const stack = {
  brokers: process.env.KAFKA_BROKERS ?? defaults.kafkaBrokers,
  databaseUrl: process.env.DATABASE_URL ?? defaults.databaseUrl,
};

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A new, migrated database, dropped when the test ends. */
export async function freshDatabase(t: Teardown): Promise<{ url: string; db: Knex }> {
  const name = uniqueName('playlog_t');
  const admin = createDb({ url: stack.databaseUrl, poolMax: 1 });
  await admin.raw(`create database ${name}`);
  const url = withDatabase(stack.databaseUrl, name);
  const db = createDb({ url, poolMax: 4 });
  await migrateLatest(db);
  t.teardown(async () => {
    await db.destroy();
    // Let the test's own connections finish closing first; force only what is left after 3 s.
    for (let i = 0; i < 30; i++) {
      const r = await admin.raw('select count(*)::int as n from pg_stat_activity where datname = ?', [name]);
      if (r.rows[0].n === 0) break;
      await sleep(100);
    }
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  });
  return { url, db };
}

/** A new topic, deleted when the test ends. */
export async function freshTopic(t: Teardown, partitions = 3): Promise<string> {
  const topic = uniqueName('play-logs-t').replaceAll('_', '-');
  await ensureTopic(stack.brokers, topic, partitions);
  t.teardown(() => deleteTopic(stack.brokers, topic).catch(() => undefined));
  return topic;
}

/** A key in the database only: ingest learns of it from a key feed (see freshKeyFeed). */
export async function createKey(db: Knex, client: string, name = 'test'): Promise<string> {
  return (await keysRepository(db).create(client, name)).key;
}

export interface KeyFeed {
  /** The feed's topic: ingest's KAFKA_KEYS_TOPIC. */
  topic: string;
  /** Creates a key in the database and publishes the feed, as the keys CLI does; returns the key. */
  create(client: string, name?: string): Promise<string>;
  /** Revokes a key in the database and publishes the feed, as the keys CLI does. */
  revoke(id: number): Promise<void>;
  /** Publishes every key's state and a heartbeat, as the loader does every KEY_SYNC_SECONDS. */
  publish(): Promise<void>;
}

/** A producer on the local broker for a test's own messages, closed when the test ends. */
export async function testProducer(t: Teardown): Promise<PlayProducer> {
  const producer = new PlayProducer({ brokers: stack.brokers, clientId: 'test', log: pino({ level: 'silent' }), registry: new Registry() });
  await producer.connect();
  t.teardown(() => producer.close());
  return producer;
}

/** A fresh key-feed topic for the keys of `db`, published once (a heartbeat, so ingest can be ready). */
export async function freshKeyFeed(t: Teardown, db: Knex): Promise<KeyFeed> {
  const topic = await freshTopic(t, 1);
  const producer = await testProducer(t);
  const keys = keysRepository(db);
  const publish = async () => producer.send(topic, keyFeedMessages(await keys.feed()));
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

/** Polls `probe` until it returns a truthy value or the time runs out. */
export async function eventually<T>(probe: () => Promise<T> | T, timeoutMs = 30_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
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
  const proc = startProcess(t, 'node', [`apps/${app}/dist/main.js`], { ...env, ...extra, [portVar]: String(p) });
  const base = `http://127.0.0.1:${p}`;
  await eventually(async () => (await fetch(`${base}/readyz`)).ok, 30_000, `${app} ready\n${proc.output()}`);
  return { proc, port: p, base, metrics: `http://127.0.0.1:${metricsPort}` };
}
