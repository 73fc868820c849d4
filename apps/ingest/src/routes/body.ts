import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
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
