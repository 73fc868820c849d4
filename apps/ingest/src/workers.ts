import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { IngestConfig } from './config.js';

/** IPC between a pod's primary and its workers: a worker's lasting not-ready reasons, on change. */
export const READINESS_MESSAGE = 'playlog:readiness';
/** From the primary to each worker: the other listening workers' reasons ([] when they are ready). */
export const PEERS_MESSAGE = 'playlog:peers';

/**
 * In a worker: reports its readiness to the primary and returns what the other workers report, so that
 * /readyz says whether the pod (every worker that takes connections) can take plays.
 */
export function podReadiness(): { report: (reasons: string[]) => void; peers: () => string[] } {
  let peers: string[] = [];
  process.on('message', (m: { type?: string; reasons?: unknown }) => {
    if (m?.type === PEERS_MESSAGE && Array.isArray(m.reasons)) peers = m.reasons.map(String);
  });
  return { report: (reasons) => process.send?.({ type: READINESS_MESSAGE, reasons }), peers: () => peers };
}

export interface WorkerPool {
  /** Resolves once every worker listens on the API port. */
  listening: Promise<void>;
  /** SIGTERM to every worker (each drains its requests and flushes Kafka), then the worst exit code. */
  stop(): Promise<number>;
}

export interface PoolOptions {
  /** A worker that exits on its own is replaced after this long. */
  restartDelayMs?: number;
  /** More unexpected exits than this within `crashWindowMs` stop the pool: the pod restarts instead. */
  maxCrashes?: number;
  crashWindowMs?: number;
  onCrashLoop: () => void;
}

/**
 * The primary process of an ingest pod with INGEST_WORKERS > 1: forks the workers (each a whole ingest
 * app; Node's cluster module hands them connections on the one port), replaces a worker that dies, and
 * stops them all on shutdown. It serves no request itself.
 */
export function startWorkers(count: number, log: Logger, opts: PoolOptions): WorkerPool {
  const { restartDelayMs = 1_000, maxCrashes = 5, crashWindowMs = 60_000 } = opts;
  const slots = new Map<number, Worker>();
  const crashes: number[] = [];
  let stopping = false;
  // Slots whose worker has listened at least once: the pod is up when every slot has.
  const listened = new Set<number>();
  let resolveListening: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (resolveListening = resolve));

  const listeningWorkers = new WeakSet<Worker>();
  // Readiness of the listening workers (their lasting reasons), so that each can answer /readyz for the pod.
  const readiness = new Map<number, string[]>();
  // Never while stopping: the workers are exiting, and a message to one whose channel is closing fails
  // (EPIPE, although isConnected() still said yes). bench/ingest's overload run met that when one worker
  // exited just before the other: the failure was emitted as an error and the primary exited 1. A send
  // that fails otherwise (a worker dying on its own) is logged; its exit is handled below.
  const broadcast = () => {
    if (stopping) return;
    for (const [slot, w] of slots) {
      const peers = [...readiness].filter(([k]) => k !== slot).flatMap(([k, reasons]) => reasons.map((r) => `worker ${k}: ${r}`));
      if (!w.isConnected()) continue;
      w.send({ type: PEERS_MESSAGE, reasons: peers }, (err) => {
        if (err) log.warn({ err, worker: slot }, 'could not tell a worker its peers readiness');
      });
    }
  };
  const fork = (slot: number, replacing = false) => {
    const worker = cluster.fork({ INGEST_WORKER: String(slot), INGEST_WORKER_REPLACES: replacing ? '1' : '0' });
    slots.set(slot, worker);
    worker.on('message', (m: { type?: string; reasons?: unknown }) => {
      if (m?.type !== READINESS_MESSAGE || !Array.isArray(m.reasons) || slots.get(slot) !== worker) return;
      readiness.set(slot, m.reasons.map(String));
      broadcast();
    });
    worker.once('listening', () => {
      listeningWorkers.add(worker);
      if (!readiness.has(slot)) readiness.set(slot, ['starting']);
      broadcast();
      if (listened.has(slot)) log.info({ worker: slot, pid: worker.process.pid }, 'worker replaced');
      listened.add(slot);
      if (listened.size === count) resolveListening();
    });
    worker.once('exit', (code, signal) => {
      if (slots.get(slot) === worker) {
        slots.delete(slot);
        readiness.delete(slot);
        broadcast();
      }
      if (stopping) return;
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && crashes[0]! < now - crashWindowMs) crashes.shift();
      if (crashes.length > maxCrashes) {
        log.fatal(
          { worker: slot, code, signal, crashes: crashes.length, windowSeconds: crashWindowMs / 1000 },
          'workers keep exiting; stopping',
        );
        opts.onCrashLoop();
        return;
      }
      log.error({ worker: slot, pid: worker.process.pid, code, signal }, 'worker exited; starting another');
      setTimeout(() => {
        if (!stopping) fork(slot, true);
      }, restartDelayMs);
    });
  };
  for (let slot = 1; slot <= count; slot++) fork(slot);

  return {
    listening,
    async stop() {
      stopping = true;
      const exits = [...slots.values()].map(
        (w) =>
          new Promise<number>((resolve) => {
            // A worker still starting (not listening: nothing in flight) may die of the SIGTERM itself.
            const clean = (code: number | null, signal: string | null) =>
              code ?? (signal === 'SIGTERM' && !listeningWorkers.has(w) ? 0 : 1);
            if (w.isDead()) return resolve(clean(w.process.exitCode, w.process.signalCode));
            w.once('exit', (code, signal) => resolve(clean(code, signal)));
            w.process.kill('SIGTERM');
          }),
      );
      const codes = await Promise.all(exits);
      return Math.max(0, ...codes);
    },
  };
}

/**
 * A worker's share of the limits set per pod: the per-client rate limit and its burst are split evenly
 * between the workers (the primary hands connections out round-robin). MAX_CONNECTIONS and
 * KAFKA_MAX_IN_FLIGHT stay per process: they bound each worker's own memory.
 */
export function workerConfig(config: IngestConfig): IngestConfig {
  const n = config.workers;
  if (n <= 1) return config;
  return {
    ...config,
    clientRatePlaysPerSecond: Math.ceil(config.clientRatePlaysPerSecond / n),
    clientRateBurstPlays: Math.ceil(config.clientRateBurstPlays / n),
  };
}
