import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DecodeRules } from '@playlog/schema';
import { decodeBatch, type DecodedBatch } from './decode.js';

/**
 * Where a batch's decoding and COPY rendering happen: on a worker thread, so that a 2-CPU pod uses both
 * CPUs and the loop's thread stays free to feed Postgres's sockets (measured in bench/loader/RESULTS.md:
 * with both on one thread, the database spent half its time waiting for the loader), or inline.
 */
export interface Decoder {
  /** Never rejects: if the worker fails, the batch is decoded inline and later batches too. */
  decode(values: readonly (Buffer | null)[], rules: DecodeRules): Promise<DecodedBatch>;
  close(): Promise<void>;
}

/** Decodes on the calling thread (LOADER_DECODE_WORKERS=0, and unit tests). */
export function inlineDecoder(): Decoder {
  return {
    decode: (values, rules) => Promise.resolve(decodeBatch(values, rules)),
    close: () => Promise.resolve(),
  };
}

const YOUNG_GENERATION_MB = 96;

/** A batch's values as one transferable buffer: their bytes end to end, and each length (-1: null). */
export interface Packed {
  id: number;
  bytes: ArrayBuffer;
  lengths: Int32Array;
  rules: DecodeRules;
}

export type Reply = { id: number; batch: DecodedBatch } | { id: number; error: string };

function pack(id: number, values: readonly (Buffer | null)[], rules: DecodeRules): Packed {
  const lengths = new Int32Array(values.length);
  let total = 0;
  values.forEach((v, i) => {
    lengths[i] = v ? v.length : -1;
    total += v ? v.length : 0;
  });
  // Its own ArrayBuffer (not a slice of Node's pool), so it can be handed over without a second copy.
  const bytes = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const v of values) {
    if (v) at += v.copy(bytes, at);
  }
  return { id, bytes: bytes.buffer as ArrayBuffer, lengths, rules };
}

export function unpack({ bytes, lengths }: Packed): (Buffer | null)[] {
  const values: (Buffer | null)[] = [];
  let at = 0;
  for (const n of lengths) {
    values.push(n < 0 ? null : Buffer.from(bytes, at, n));
    at += Math.max(0, n);
  }
  return values;
}

/** A Buffer again from what the structured clone made of one (a Uint8Array). */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.length);
}

/**
 * One worker thread running decode-worker.ts (decode-worker.js once built, beside this module in dist/ and
 * in the bundle). Batches are decoded in the order they are sent; a worker that dies (or cannot start) is
 * not restarted: the batches it held and all later ones are decoded inline, and `onFailure` is told once.
 */
export function workerDecoder(onFailure: (err: Error) => void): Decoder {
  const inline = inlineDecoder();
  const pending = new Map<number, { resolve: (b: DecodedBatch) => void; values: readonly (Buffer | null)[]; rules: DecodeRules }>();
  let nextId = 0;
  let failed = false;
  let closing = false;
  const worker = new Worker(new URL(`./decode-worker${extname(import.meta.url)}`, import.meta.url), {
    // A batch's plays live until its body is rendered: with V8's default young generation most of them
    // survive a scavenge and are copied into the old one. Room for a few batches there costs a third less
    // decoding time (bench/loader/RESULTS.md).
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
  worker.unref();
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    if (!closing) onFailure(err);
    for (const p of pending.values()) void inline.decode(p.values, p.rules).then(p.resolve);
    pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`decode worker exited with code ${code}`)));
  worker.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if ('error' in reply) {
      // A bug in decoding, not in the data (decodeBatch refuses bad data itself): the same code inline.
      void inline.decode(p.values, p.rules).then(p.resolve);
      return;
    }
    const batch = reply.batch;
    if (batch.prepared) batch.prepared.body = asBuffer(batch.prepared.body);
    for (const r of batch.refused) if (r.value) r.value = asBuffer(r.value);
    p.resolve(batch);
  });
  return {
    decode(values, rules) {
      if (failed) return inline.decode(values, rules);
      return new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, { resolve, values, rules });
        const message = pack(id, values, rules);
        worker.postMessage(message, [message.bytes]);
      });
    },
    async close() {
      closing = true;
      await worker.terminate();
    },
  };
}

/** `count` worker threads taking batches in turn (0: inline). */
export function decoders(count: number, onFailure: (err: Error) => void): Decoder {
  if (count === 0) return inlineDecoder();
  const pool = Array.from({ length: count }, () => workerDecoder(onFailure));
  let next = 0;
  return {
    decode(values, rules) {
      const d = pool[next]!;
      next = (next + 1) % pool.length;
      return d.decode(values, rules);
    },
    async close() {
      await Promise.all(pool.map((d) => d.close()));
    },
  };
}
