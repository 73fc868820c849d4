/**
 * Paces writes so the database is never pushed past what it sustains:
 * - a hard ceiling in rows per second (0 = none), enforced over each batch;
 * - adaptive slowing: when a write takes longer than the target, the next one waits in proportion,
 *   so a database under strain gets room to recover; a backlog on the topic is fine.
 */
export class Throttle {
  private nextAllowed = 0;

  constructor(
    private readonly maxRowsPerSecond: number,
    private readonly targetWriteMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A write of `rows` starts now: the ceiling spaces the next one by the time those rows are worth. */
  started(rows: number): void {
    if (this.maxRowsPerSecond <= 0) return;
    const now = this.now();
    this.nextAllowed = Math.max(this.nextAllowed, now) + (rows / this.maxRowsPerSecond) * 1000;
  }

  /** A write took `writeMs`: past the target, the next one waits in proportion. */
  finished(writeMs: number): void {
    if (writeMs > this.targetWriteMs) this.nextAllowed = Math.max(this.nextAllowed, this.now() + (writeMs - this.targetWriteMs));
  }

  /** Milliseconds to wait before the next batch may be written. */
  delayMs(): number {
    return Math.max(0, this.nextAllowed - this.now());
  }

  /** The largest batch that keeps the ceiling smooth: about one second of rows at most. */
  batchLimit(configured: number): number {
    return this.maxRowsPerSecond > 0 ? Math.max(1, Math.min(configured, this.maxRowsPerSecond)) : configured;
  }
}
