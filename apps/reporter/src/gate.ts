import { setTimeout as sleep } from 'node:timers/promises';
import { caughtUp, groupProgress } from '@playlog/kafka';

export interface GateResult {
  complete: boolean;
  /** Messages received before the run started that the loader has not yet committed. */
  behind: number;
}

/**
 * The completeness gate: a day may be reported only when the loader's committed offsets have reached
 * the topic's end offsets as they stood when the run started, i.e. nothing already received still
 * waits on the topic. Polls until then or until `waitMs` runs out.
 */
export async function waitForLoader(brokers: string, topic: string, groupId: string, waitMs: number, pollMs = 1_000): Promise<GateResult> {
  const deadline = Date.now() + waitMs;
  // A broker that has just started may not have a group coordinator yet: retry within the wait.
  const progress = async () => {
    for (;;) {
      try {
        return await groupProgress(brokers, topic, groupId);
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await sleep(pollMs);
      }
    }
  };
  const ends = (await progress()).partitions;
  for (;;) {
    const now = await progress();
    if (caughtUp(now, ends)) return { complete: true, behind: 0 };
    if (Date.now() >= deadline) {
      const behind = ends.reduce((sum, e) => {
        const c = now.partitions.find((p) => p.partition === e.partition)?.committed ?? 0;
        return sum + Math.max(0, e.end - Math.max(0, c));
      }, 0);
      return { complete: false, behind };
    }
    await sleep(pollMs);
  }
}
