import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';

/**
 * Graceful shutdown, by close-with-grace (fastify's own, kept by its authors): on SIGTERM, SIGINT (and
 * the other terminating signals) or an uncaught error, runs `stop` once, then exits 0, or 1 if stopping
 * failed, took longer than `graceMs`, or was caused by an error. A second signal exits at once. Events
 * in `skip` are left to the caller (a cluster worker skips SIGINT: Ctrl-C reaches its primary, which
 * stops it with SIGTERM). Everything is logged through `log`, one structured line each.
 */
export function onShutdown(
  log: Logger,
  stop: (signal: string) => Promise<void>,
  graceMs = 25_000,
  skip: NonNullable<closeWithGrace.Options['skip']> = [],
): void {
  closeWithGrace(
    {
      delay: graceMs,
      logger: false,
      skip,
      onSecondSignal: (signal) => log.warn({ signal }, 'second signal, exiting now'),
      onSecondError: (err) => log.error({ err }, 'error while shutting down, exiting now'),
      onTimeout: () => log.error({ graceMs }, 'shutdown took too long, exiting'),
    },
    async ({ signal, err }) => {
      if (err) log.fatal({ err }, 'uncaught error, shutting down');
      else log.info({ signal }, 'shutting down');
      try {
        await stop(signal ?? 'error');
      } catch (stopErr) {
        log.error({ err: stopErr }, 'shutdown failed');
        throw stopErr;
      }
      log.info('stopped');
      log.flush?.();
    },
  );
}
