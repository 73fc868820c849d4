import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Codes, HttpError } from '../errors.js';

/** An NDJSON line that is not valid JSON; reported per item on the bulk route. */
export class BadLine {
  constructor(readonly message: string) {}
}

/**
 * Request-body handling shared by the ingest routes (registered inside their encapsulated context):
 * `Content-Encoding: gzip` is inflated before parsing, and Fastify's `bodyLimit` then applies to the
 * inflated bytes, so a gzip bomb is cut off at the limit with a 413. Other encodings get a 415.
 */
export function acceptGzip(app: FastifyInstance): void {
  app.addHook('preParsing', async (req, _reply, payload) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
    if (encoding === 'identity') return payload;
    if (encoding !== 'gzip') throw new HttpError(415, Codes.unsupportedEncoding, 'Content-Encoding must be gzip or identity');
    let compressed = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        compressed += chunk.length;
        done(null, chunk);
      },
    });
    const inflated = (payload as Readable).pipe(counter).pipe(createGunzip()) as Readable & { receivedEncodedLength?: number };
    // Fastify compares Content-Length with the bytes received on the wire, not the inflated ones.
    counter.on('end', () => {
      inflated.receivedEncodedLength = compressed;
    });
    (payload as Readable).on('error', (err) => inflated.destroy(err));
    return inflated;
  });
}

/** `application/x-ndjson`: one play per line; blank lines are skipped, bad lines become BadLine items. */
export function acceptNdjson(app: FastifyInstance, bodyLimit: number): void {
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    const plays: unknown[] = [];
    for (const line of (body as string).split('\n')) {
      if (line.trim() === '') continue;
      try {
        plays.push(JSON.parse(line));
      } catch {
        plays.push(new BadLine('line is not valid JSON'));
      }
    }
    done(null, { plays });
  });
}

/**
 * JSON bodies, parsed as Fastify's default parser does (secure-json-parse: a key named `__proto__`, or a
 * `constructor` holding a `prototype`, is refused with 400), but that parser scans every body with two
 * regular expressions after parsing it: 4.5 % of ingest's CPU on the bulk route (bench/ingest profile).
 * A body can only hold such a key if its text holds `__proto__` or `constructor` literally, or a `\u`
 * escape (JSON writes letters and `_` no other way), so a body with none of the three is parsed with
 * plain JSON.parse, and any other body, or one JSON.parse refuses, goes through the default parser,
 * which decides and reports exactly as before.
 */
export function acceptJson(app: FastifyInstance): void {
  const checked = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
      const text = body as string;
      if (text.length > 0 && !text.includes('__proto__') && !text.includes('constructor') && !text.includes('\\u')) {
        try {
          done(null, JSON.parse(text));
          return;
        } catch {
          // Not JSON (or a byte-order mark): the default parser gives Fastify's error for it.
        }
      }
      checked(req, text, done);
    },
  );
}
