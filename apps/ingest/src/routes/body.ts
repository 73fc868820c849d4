import compress from '@fastify/compress';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Codes, HttpError } from '../errors.js';

/** An NDJSON line that is not valid JSON; reported per item on the bulk route. */
export class BadLine {
  constructor(readonly message: string) {}
}

/**
 * Request-body handling shared by the ingest routes (registered inside their encapsulated context):
 * `Content-Encoding: gzip` is inflated before parsing by @fastify/compress (request decompression
 * only: responses are small JSON and are not compressed). Fastify's `bodyLimit` applies to the
 * inflated bytes the parser reads, so a gzip bomb is cut off at the limit with a 413; the plugin tells
 * Fastify the bytes received on the wire, which Content-Length is checked against. Other encodings get
 * a 415, a body that is not gzip a 400. Content codings are case-insensitive (RFC 9110 §8.4.1) and the
 * plugin compares them exactly, so the header is lower-cased first.
 */
export async function acceptGzip(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    route.compress = false;
  });
  app.addHook('onRequest', (req, _reply, done) => {
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined) req.headers['content-encoding'] = encoding.toLowerCase().trim();
    done();
  });
  await app.register(compress, {
    globalCompression: false,
    globalDecompression: true,
    requestEncodings: ['gzip', 'identity'],
    onUnsupportedRequestEncoding: () => new HttpError(415, Codes.unsupportedEncoding, 'Content-Encoding must be gzip or identity'),
    // Copied onto zlib's error, which reaches the route's error handler as a 400.
    onInvalidRequestPayload: (_encoding, _req, err) => ({
      name: 'HttpError',
      statusCode: 400,
      code: Codes.badRequest,
      message: `body is not valid gzip (${err.message})`,
    }),
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
