/** A one-line progress bar on stderr when it is a terminal; silent otherwise (logs, CronJobs). */
export function progressBar(total: number, stream: NodeJS.WriteStream = process.stderr) {
  const on = stream.isTTY === true && total > 1;
  const width = 30;
  return {
    update(done: number, label: string): void {
      if (!on) return;
      const filled = Math.round((done / total) * width);
      stream.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} ${label}  `);
    },
    done(): void {
      if (on) stream.write(`\r[${'#'.repeat(width)}] ${total}/${total}${' '.repeat(14)}\n`);
    },
  };
}
