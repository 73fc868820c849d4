/**
 * A job the loader runs every `everyMs` (partition upkeep, the key feed): `start` runs it once at once
 * and resolves when that first run is done, then repeats it; `stop` ends the repeats. The job handles
 * its own failures: a failed run is retried at the next period.
 */
export function periodic(everyMs: number, run: () => Promise<void>): { start(): Promise<void>; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  return {
    start() {
      timer = setInterval(() => void run(), everyMs);
      timer.unref();
      return run();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
