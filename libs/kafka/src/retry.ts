import type { KafkaLogger } from './errors.js';

/**
 * Runs `attempt` until it succeeds, waiting between tries (1 s, doubling up to 10 s, with jitter), and
 * logs each failure with what it was trying to reach. `onProblem` hears why it is not there yet (for
 * readiness reasons). Returns a function that stops further tries.
 */
export function retryConnect(
  attempt: () => Promise<void>,
  log: KafkaLogger,
  what: string,
  onProblem: (why: string) => void = () => undefined,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;
  const run = (): void => {
    attempt().then(
      () => {
        if (failures > 0) log.info({ what, failures }, `reached ${what}`);
      },
      (err: unknown) => {
        if (stopped) return;
        failures++;
        const why = (err as Error).message;
        onProblem(why);
        const delay = Math.min(10_000, 1_000 * 2 ** Math.min(failures - 1, 4)) * (0.8 + Math.random() * 0.4);
        // An expected, retried condition (a broker not reachable yet): its message says it all, and a stack
        // trace in every retry line reads as a crash to an operator.
        log.warn(
          { err: { message: why, code: (err as { code?: unknown }).code }, attempt: failures, retryInMs: Math.round(delay) },
          `cannot reach ${what}; retrying`,
        );
        timer = setTimeout(run, delay);
        timer.unref();
      },
    );
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
