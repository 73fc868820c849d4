import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { Session } from '@playlog/db';
import {
  abandon,
  type Compress,
  formOf,
  hourFingerprints,
  hoursOf,
  onePlan,
  type SegmentRow,
  sinkInto,
  usualPlan,
  writePart,
} from './segments.js';
import { renderPerPlay } from './per-play.js';
import { CLIENT_USAGE_HEADER, type DayScope } from './usage.js';

/**
 * client-usage.csv, assembled: its header, then the day's hours in order, each from a segment rendered
 * ahead (segments.ts) or rendered now on one of the report's per-play connections.
 */
export interface PerPlayWritten {
  sha256: string;
  bytes: number;
  /** Hours copied from segments rendered ahead, of `hours`. */
  fromSegments: number;
  hours: number;
  /** Hours each session rendered (in the order of the sessions given). */
  rendered: number[];
  /** Of the hours rendered, those streamed straight into the file (the rest went through an hour file). */
  streamed: number;
}

/** Where hour `i` of `file` is rendered when the file is not ready for it yet. */
function partFile(file: string, i: number): string {
  return `${file}.hour-${String(i).padStart(2, '0')}`;
}

/** A part of client-usage, as the appender finds it: being streamed into the file by a session, or a file to copy. */
type Part = { streamed: Promise<void> } | { handle: FileHandle } | { path: string };

/** A promise with its resolve and reject at hand (Promise.withResolvers, from Node 22). */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (err: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * Writes the day's client-usage file (in the report's snapshot, on every session): its header, then
 * each hour, from its segment when `segmentsFrom` (REPORT_DIR) holds a current one, else rendered now.
 *
 * The hours left to render are shared out among the sessions (REPORT_PER_PLAY_CONNECTIONS, 1 by
 * default), each a connection of its own, taken in order as each session becomes free: more than one
 * helps only where the database's processes, not the reporter's rendering, limit the file. A session
 * that takes an hour when every hour before it is complete streams it straight into the file (with one
 * session, every hour); otherwise the hour is rendered beside the file (`<file>.hour-NN`, the bytes a
 * segment would hold) and copied in at its turn, then deleted. Hours are appended strictly in order,
 * so the bytes do not depend on how many sessions there are. On the first failure every session stops:
 * its COPY is abandoned (the caller discards the connections) and no hour file is left.
 */
export async function writeClientUsage(
  sessions: readonly Session[],
  s: DayScope,
  file: string,
  compress: Compress,
  segmentsFrom?: string,
): Promise<PerPlayWritten> {
  const first = sessions[0];
  if (!first) throw new Error('writeClientUsage: no session');
  const hours = hoursOf(s.day, s.timezone);
  for (const db of sessions) await onePlan(db);
  const ready = new Map<number, string>();
  if (segmentsFrom !== undefined) {
    const fingerprints = await hourFingerprints(first, s.client, hours);
    const rows = await first.query<SegmentRow>(
      `select slice, form, fingerprint, bytes::text, path from report_segments where client = $1 and day = $2`,
      [s.client, s.day],
    );
    for (const row of rows.rows) {
      if (row.form === formOf(s, compress) && row.fingerprint === fingerprints[row.slice]?.fingerprint) ready.set(row.slice, row.path);
    }
  }
  const out = createWriteStream(file);
  const hash = createHash('sha256');
  const counter = { bytes: 0 };
  const sink = sinkInto(out, hash, counter);
  const slots = hours.map(() => deferred<Part>()); // what the file takes for each hour
  const turns = hours.map(() => deferred<void>()); // resolved when every byte before the hour is in the file
  const complete = hours.map(() => false); // the hour's bytes are all in the file or in a file of their own
  const toRender: number[] = [];
  const handles: FileHandle[] = [];
  for (const i of hours.keys()) {
    const path = ready.get(i);
    // Opened now: a segment replaced meanwhile by a newer one stays readable through this handle, and
    // one already gone is rendered instead.
    const handle = path ? await open(path).catch(() => undefined) : undefined;
    if (handle) {
      handles.push(handle);
      slots[i]!.resolve({ handle });
      complete[i] = true;
    } else toRender.push(i);
  }
  const fromSegments = hours.length - toRender.length;

  let failed: { err: unknown } | undefined;
  const failure = deferred<never>();
  failure.promise.catch(() => undefined);
  const writing = new Set<Writable>(); // hour files being written
  const copying = new Set<Readable>(); // COPYs running
  const stop = (err: unknown): never => {
    if (!failed) {
      failed = { err };
      failure.reject(err);
      // Every session stops now, not at the end of its hour: its COPY and its output fail.
      const reason = err instanceof Error ? err : new Error(String(err));
      for (const stream of [out, ...writing, ...copying]) stream.destroy(reason);
    }
    throw err;
  };
  out.on('error', (err) => {
    try {
      stop(err); // the file cannot be written (a full disk): no session renders on
    } catch {
      // reported by whoever was writing, or at the end
    }
  });
  const rendered = sessions.map(() => 0);
  let streamed = 0;

  const render = async (db: Session, n: number): Promise<void> => {
    for (let i = toRender.shift(); i !== undefined && !failed; i = toRender.shift()) {
      rendered[n]!++;
      const copy = () => {
        if (failed) throw failed.err;
        const c = renderPerPlay(db, s, hours[i]!);
        copying.add(c);
        c.once('close', () => copying.delete(c));
        return c;
      };
      if (complete.slice(0, i).every(Boolean)) {
        // Only the appender's copying of complete hours is ahead of this one: wait for it, then stream.
        await Promise.race([turns[i]!.promise, failure.promise]);
        const done = writePart(copy(), compress, sink);
        slots[i]!.resolve({ streamed: done });
        await done;
        complete[i] = true;
        streamed++;
        continue;
      }
      const path = partFile(file, i);
      const part = createWriteStream(path);
      writing.add(part);
      try {
        await writePart(copy(), compress, sinkInto(part, undefined, { bytes: 0 }));
        part.end();
        await finished(part);
      } catch (err) {
        await abandon(part);
        throw err;
      } finally {
        writing.delete(part);
      }
      complete[i] = true;
      slots[i]!.resolve({ path });
    }
  };
  const append = async (): Promise<void> => {
    await writePart(Readable.from([Buffer.from(CLIENT_USAGE_HEADER)]), compress, sink);
    for (const [i, slot] of slots.entries()) {
      turns[i]!.resolve();
      const part = await Promise.race([slot.promise, failure.promise]);
      if ('streamed' in part) await part.streamed;
      else if ('handle' in part) await pipeline(part.handle.createReadStream(), sink);
      else {
        await pipeline(createReadStream(part.path), sink);
        await rm(part.path, { force: true });
      }
    }
    out.end();
    await finished(out);
  };

  await Promise.allSettled([append().catch(stop), ...sessions.map((db, n) => render(db, n).catch(stop))]);
  if (failed) {
    await abandon(out);
    await Promise.all(hours.map((_, i) => rm(partFile(file, i), { force: true })));
    await Promise.allSettled(handles.map((h) => h.close())); // those not read to their end (a second close fails, harmlessly)
    throw failed.err;
  }
  for (const db of sessions) await usualPlan(db);
  return { sha256: hash.digest('hex'), bytes: counter.bytes, fromSegments, hours: hours.length, rendered, streamed };
}
