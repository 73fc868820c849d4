import type { Logger } from 'pino';

/**
 * Runs `stop` once on SIGTERM or SIGINT (or the given `signals`), then exits 0 (or 1 if stopping failed
 * or took longer than `graceMs`). A second signal exits at once.
 */
export function onShutdown(
  log: Logger,
  stop: (signal: string) => Promise<void>,
  graceMs = 25_000,
  signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ graceMs }, 'shutdown took too long, exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop(signal).then(
      () => {
        log.info('stopped');
        log.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, handler);
}
