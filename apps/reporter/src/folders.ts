import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { CLIENT_NAME, isDay } from '@playlog/schema';

/** A report folder that would not be a folder of REPORT_DIR: a client name that is not one, say. */
export class UnsafeFolderError extends Error {}

/**
 * `<reportDir>/<client>/<day>/v<version>`, confined to REPORT_DIR: the client and the day must be the
 * names they claim to be (a client name read from a play never climbs out with `..` or `/`), and the
 * resolved path must lie inside REPORT_DIR whatever they hold.
 */
export function reportFolder(reportDir: string, client: string, day: string, version: number): string {
  if (!CLIENT_NAME.test(client))
    throw new UnsafeFolderError(`client ${JSON.stringify(client)} is not a client name, so it cannot name a report folder`);
  if (!isDay(day) || !Number.isInteger(version) || version < 1) throw new UnsafeFolderError(`no report folder for ${day} v${version}`);
  const root = resolve(reportDir);
  const dir = join(root, client, day, `v${version}`);
  if (!dir.startsWith(root + sep)) throw new UnsafeFolderError(`${dir} is outside REPORT_DIR (${root})`);
  return dir;
}

/**
 * `<reportDir>/.segments/<client>/<day>`: where a day's per-hour client-usage segments wait for its
 * report (segments.ts), confined like a report folder (no client name begins with a dot).
 */
export function segmentFolder(reportDir: string, client: string, day: string): string {
  reportFolder(reportDir, client, day, 1); // the same checks: throws UnsafeFolderError
  return join(resolve(reportDir), '.segments', client, day);
}

/**
 * Fails fast, before any database work, when REPORT_DIR cannot take a report: it is created if
 * missing, then a probe file is written, flushed and removed. A file system that does not answer
 * within `timeoutMs` (a hung network mount) fails too, instead of holding a transaction open.
 */
export async function checkWritable(reportDir: string, timeoutMs = 10_000): Promise<void> {
  const probe = join(reportDir, `.playlog-write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
  const attempt = (async () => {
    await mkdir(reportDir, { recursive: true });
    const fh = await open(probe, 'wx');
    try {
      await fh.writeFile('probe');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rm(probe, { force: true });
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the file system within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([attempt, timeout]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`REPORT_DIR=${reportDir} cannot take reports: ${e.code ? `${e.code}, ` : ''}${e.message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
