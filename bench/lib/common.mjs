// Shared helpers for the benchmarks: fresh database and topic, child processes with RSS sampling,
// medians, machine notes, and cleanup that runs however the run ends. Loopback targets only.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { cpus, totalmem, loadavg } from 'node:os';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { databaseUrlAs, kafkaClientConfig } from '@playlog/config';
import { migrateLatest } from '@playlog/db';
import { deleteTopic, ensureTopic } from '@playlog/kafka';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:15432/playlog?sslmode=verify-full';
/**
 * The stack the bench runs on (its private one, by default: bench/lib/run-bench.sh), as the stack's apps
 * reach it: mutual TLS and one role each. The bench's own work (topics, databases, reading back) is the
 * admin principal's. `plaintext`: the private stack's extra plaintext, unauthenticated listener and
 * database access, which the benches measure the cost of TLS and authentication against.
 */
export const stack = {
  brokers,
  databaseUrl,
  kafka: kafkaClientConfig('admin', { ...process.env, KAFKA_BROKERS: brokers }),
  adminUrl: databaseUrlAs('admin', databaseUrl),
  plaintext: process.env.BENCH_PLAINTEXT_PORT
    ? { brokers: `127.0.0.1:${process.env.BENCH_PLAINTEXT_PORT}`, pgPort: new URL(databaseUrl).port }
    : undefined,
};

/** Load is only ever sent to this machine: refuse any other address. */
function assertLoopback(host, what) {
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host)) throw new Error(`${what} must be on loopback (got ${host})`);
}
for (const b of stack.brokers.split(',')) assertLoopback(b.trim().replace(/:\d+$/, ''), 'KAFKA_BROKERS');
assertLoopback(new URL(stack.databaseUrl).hostname, 'DATABASE_URL');

export function uniqueName(prefix) {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export function outDir(bench) {
  const dir = join(REPO, 'bench', bench, 'out');
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---- cleanup ----------------------------------------------------------------------------------

const cleanups = [];
/** Registers an async cleanup; they run in reverse order on exit, error, SIGINT/SIGTERM or the deadline. */
export function onCleanup(fn) {
  cleanups.push(fn);
}
let cleaning;
export async function cleanup() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop();
      await Promise.resolve()
        .then(fn)
        .catch((err) => console.error(`cleanup: ${err.message}`));
    }
  })();
  return cleaning;
}

/** Runs main() with a hard deadline; always cleans up; exits non-zero on failure or timeout. */
export function runMain(main, deadlineSeconds) {
  const timer = setTimeout(() => {
    console.error(`bench: deadline of ${deadlineSeconds}s reached, stopping`);
    cleanup().finally(() => process.exit(124));
  }, deadlineSeconds * 1000);
  timer.unref();
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      console.error(`bench: ${sig}, cleaning up`);
      cleanup().finally(() => process.exit(130));
    });
  }
  main().then(
    async (code) => {
      await cleanup();
      process.exit(code ?? 0);
    },
    async (err) => {
      console.error('bench failed:', err);
      await cleanup();
      process.exit(1);
    },
  );
}

// ---- Postgres ---------------------------------------------------------------------------------

export function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function adminQuery(sql, params) {
  const c = new pg.Client({ connectionString: stack.adminUrl });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/**
 * A new database, owned by playlog_migrate and migrated as it; dropped at cleanup. `url` names no user
 * (an app given it connects as its own role), `adminUrl` is the bench's own.
 */
export async function freshDatabase(prefix) {
  const name = uniqueName(prefix);
  await adminQuery(`create database ${name} owner playlog_migrate`);
  const url = withDatabase(stack.databaseUrl, name);
  onCleanup(() => adminQuery(`drop database if exists ${name} with (force)`));
  await migrateLatest(databaseUrlAs('migrate', url));
  return { name, url, adminUrl: databaseUrlAs('admin', url) };
}

/** `url`'s database as `role` over plaintext, no authentication: the private stack's baseline only. */
export function plaintextDatabaseUrl(url, role) {
  const u = new URL(url);
  u.username = role;
  u.search = '?sslmode=disable';
  return u.toString();
}

export async function dropDatabase(name) {
  await adminQuery(`drop database if exists ${name} with (force)`);
}

// ---- Kafka ------------------------------------------------------------------------------------

const ROLES = { plays: 'play-logs', dlq: 'play-logs-dlq', keys: 'playlog-keys' };

/**
 * A new topic of `role` (plays, dlq, keys); deleted at cleanup. Named `<role's name>-t-bench-…`, where the
 * local ACLs give each app what it has on the role's real topic (docs/security.md).
 */
/** A new consumer group name the loader's principal may use (`playlog-loader-t-bench-…`). */
export function freshGroup() {
  return uniqueName('playlog-loader-t-bench').replaceAll('_', '-');
}

export async function freshTopic(role, partitions = 6) {
  const topic = uniqueName(`${ROLES[role]}-t-bench`).replaceAll('_', '-');
  await ensureTopic(stack.kafka, topic, partitions, role === 'keys' ? { config: { 'cleanup.policy': 'compact' } } : {});
  onCleanup(() => deleteTopic(stack.kafka, topic).catch(() => undefined));
  return topic;
}

// ---- processes --------------------------------------------------------------------------------

export async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** kB from /proc/<pid>/status (VmRSS, VmHWM); undefined once the process is gone. */
export function procStatusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** `pid` and its live descendants (an ingest primary and its workers), from /proc. */
export function processTree(pid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/**
 * Samples the RSS of a process and its descendants every `everyMs`; `stop()` returns the peak of
 * their sum, in MiB; `maxProcessMiB()` the peak of any one of them (one ingest worker).
 */
export function rssSampler(pid, everyMs = 100) {
  let peak = 0;
  let peakOne = 0;
  const sample = () => {
    let sum = 0;
    for (const p of processTree(pid)) {
      const kb = procStatusKb(p, 'VmRSS') ?? 0;
      sum += kb;
      if (kb > peakOne) peakOne = kb;
    }
    if (sum > peak) peak = sum;
  };
  const t = setInterval(sample, everyMs);
  return {
    peekMiB: () => peak / 1024,
    maxProcessMiB: () => peakOne / 1024,
    stop() {
      clearInterval(t);
      sample();
      return peak / 1024;
    },
  };
}

/** Cumulative CPU seconds (user+system) of a process and its live descendants, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  let total;
  for (const p of processTree(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      total = (total ?? 0) + (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (100 Hz)
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/**
 * Cumulative busy CPU seconds of the whole machine (all cores, every process: user, nice, system,
 * irq, softirq, steal), from /proc/stat. The difference over a step is what that step cost in CPU,
 * including Postgres's backends and parallel workers, plus whatever else ran meanwhile.
 */
export function machineCpuSeconds() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks;
  return (user + nice + system + irq + softirq + steal) / 100; // clock ticks (100 Hz)
}

/** The pid of the stack's Kafka broker (tools/stack/stack.sh writes it), or undefined. */
export function brokerPid() {
  const dir = process.env.PLAYLOG_STACK_DIR ?? join(REPO, '.stack');
  return safe(() => Number(readFileSync(join(dir, 'kafka', 'kafka.pid'), 'utf8').trim())) || undefined;
}

/**
 * Starts a process; stdout/stderr go to `logFile` (or /dev/null). Killed at cleanup if still running.
 * `stop()` sends SIGTERM and resolves with { code, signal }.
 */
export function startProcess(command, args, { env = {}, logFile, cwd = REPO } = {}) {
  const fd = openSync(logFile ?? '/dev/null', 'w');
  const child = spawn(command, args, { cwd, env: { ...process.env, PLAYLOG_LOG_PRETTY: '0', ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const proc = {
    child,
    pid: child.pid,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    async stop(signal = 'SIGTERM', graceMs = 30_000) {
      if (proc.running()) child.kill(signal);
      const t = setTimeout(() => proc.running() && child.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  onCleanup(() => proc.stop('SIGKILL', 1_000));
  return proc;
}

/** Runs a command to completion and returns its stdout; throws on a non-zero exit. */
export function runSync(command, args, env = {}) {
  return execFileSync(command, args, { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

export async function waitHttp(url, timeoutMs = 30_000, proc) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && !proc.running()) throw new Error(`process for ${url} exited early`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}`);
    await sleep(100);
  }
}

// ---- statistics and notes ---------------------------------------------------------------------

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export const fmt = {
  int: (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : String(x)),
  f1: (x) => (Number.isFinite(x) ? x.toFixed(1) : String(x)),
  f2: (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x)),
  f3: (x) => (Number.isFinite(x) ? x.toFixed(3) : String(x)),
};

/** A markdown table from a header row and rows. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function safe(fn) {
  try {
    return fn();
  } catch {
    return 'unknown';
  }
}

/** What the numbers were measured on. */
export async function machineNotes() {
  const pgVersion = await adminQuery('show server_version')
    .then((r) => r.rows[0].server_version)
    .catch(() => 'unknown');
  const pgSettings = await adminQuery(
    "select name, setting, unit from pg_settings where name in ('shared_buffers','work_mem','max_parallel_workers_per_gather','synchronous_commit','max_wal_size')",
  )
    .then((r) => r.rows.map((x) => `${x.name}=${x.setting}${x.unit ?? ''}`).join(', '))
    .catch(() => 'unknown');
  const kafkaVersion = safe(() => /<kafka\.version>([^<]+)</.exec(readFileSync(join(REPO, 'tools/stack/pom.xml'), 'utf8'))[1]);
  const head = safe(() => runSync('git', ['rev-parse', '--short', 'HEAD']).trim());
  const dirty = safe(() =>
    runSync('git', ['status', '--porcelain', '--', 'apps', 'libs', 'tools'])
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3))
      .join(', '),
  );
  return [
    `- Code: commit ${head}${dirty ? `; uncommitted changes by other engineers in the tree at the time: ${dirty}` : ', clean tree'} (built dist as found)`,
    `- CPU: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node ${process.version}; PostgreSQL ${pgVersion} (${pgSettings}); Kafka ${kafkaVersion} (single-node KRaft broker from tools/stack, log on the same disk); Kafka at ${stack.brokers}, Postgres at ${new URL(stack.databaseUrl).host}${process.env.PLAYLOG_STACK_DIR ? ' (a private stack started by bench/lib/run-bench.sh)' : ''}`,
    `- Everything on one machine: load generator, app under test, Kafka (JVM) and Postgres share the ${cpus().length} cores`,
    `- Load average at start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (other engineers' jobs run on this machine too)`,
  ].join('\n');
}

export function loadAvgNow() {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

export function yesterdayUtc() {
  return new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
}
