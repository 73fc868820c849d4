import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import { commandLine, usageError } from '@playlog/config';
import { playGenerator } from './plays.js';

const USAGE = `usage: npm run loadgen -- --url URL --key KEY [--rate PLAYS_PER_S] [--duration S | --plays N] [--batch N]
                            [--route bulk|v12] [--day YYYY-MM-DD] [--seed N] [--users N] [--tracks N]
                            [--concurrency N] [--retries N] [--give-up S] [--gzip]
  Sends realistic plays to a Playlog ingest and prints what was accepted. --rate 0 sends as fast as it can.
  A request answered 429 or 503 (or not answered) is sent again, the same plays, after its Retry-After,
  up to --retries times (default 5), as a real client would; ingest counts each play once.
  Stops at --duration: requests still waiting then are abandoned (their plays' fate is unknown, and said).
  Gives up when nothing has answered for --give-up seconds (default 30), saying why (the connection error).
  Exit 0 when every request was accepted in full; 1 when any failed or any play was rejected (the
  server's error codes are printed); 2 on a usage error.`;

function whole(flag: string, v: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    usageError('loadgen', USAGE, `${flag} must be a whole number from ${min} to ${max} (got ${v})`);
  return n;
}

function positive(flag: string, v: string, allowZero = false): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || (!allowZero && n === 0))
    usageError('loadgen', USAGE, `${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${v})`);
  return n;
}

function options() {
  const { values } = commandLine('loadgen', USAGE, process.argv.slice(2), {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    key: { type: 'string' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string' },
    plays: { type: 'string' },
    batch: { type: 'string', default: '100' },
    route: { type: 'string', default: 'bulk' },
    day: { type: 'string' },
    seed: { type: 'string', default: '42' },
    users: { type: 'string', default: '2000' },
    tracks: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '8' },
    retries: { type: 'string', default: '5' },
    'give-up': { type: 'string', default: '30' },
    gzip: { type: 'boolean', default: false },
  });
  if (!values.key) usageError('loadgen', USAGE, '--key is required');
  if (values.route !== 'bulk' && values.route !== 'v12') usageError('loadgen', USAGE, `--route must be bulk or v12 (got ${values.route})`);
  if (values.duration !== undefined && values.plays !== undefined) usageError('loadgen', USAGE, 'give --duration or --plays, not both');
  if (values.day !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(values.day) || Number.isNaN(Date.parse(`${values.day}T00:00:00Z`)))) {
    usageError('loadgen', USAGE, `--day must be a date YYYY-MM-DD (got ${values.day})`);
  }
  if (!/^https?:\/\/[^/]+/.test(values.url)) usageError('loadgen', USAGE, `--url must be an http(s) URL (got ${values.url})`);
  return {
    url: values.url.replace(/\/+$/, ''),
    key: values.key,
    rate: positive('--rate', values.rate, true),
    durationMs: values.duration === undefined ? undefined : positive('--duration', values.duration) * 1000,
    plays: values.plays === undefined ? undefined : whole('--plays', values.plays, 1),
    batch: whole('--batch', values.batch, 1, 100_000),
    route: values.route,
    day: values.day,
    seed: whole('--seed', values.seed, 0),
    users: whole('--users', values.users, 1),
    tracks: whole('--tracks', values.tracks, 1),
    concurrency: whole('--concurrency', values.concurrency, 1, 10_000),
    retries: whole('--retries', values.retries, 0, 100),
    giveUpMs: positive('--give-up', values['give-up']) * 1000,
    gzip: values.gzip,
  };
}

interface Stats {
  sent: number;
  accepted: number;
  rejected: number;
  /** Plays of requests that finally failed (non-2xx after retries, or never answered). */
  failed: number;
  /** Plays of requests still waiting at the deadline: abandoned, outcome unknown. */
  abandoned: number;
  /** Why the run gave up: nothing answered for --give-up seconds (the last connection error). */
  unreachable?: string;
  retried: number;
  status: Map<string, number>;
  /** Server error codes (PLAYLOG_… or 7digital's numbers), and per-play rejection codes. */
  codes: Map<string, number>;
}

const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

/** The stable code in an error body: Fastify's shape, 7digital's envelope, or per-play errors. */
function errorCodes(text: string): string[] {
  try {
    const b = JSON.parse(text) as { code?: string; error?: { code?: number }; errors?: { code: string }[] };
    if (b.errors?.length) return b.errors.map((e) => e.code);
    if (b.code) return [b.code];
    if (b.error?.code !== undefined) return [String(b.error.code)];
  } catch {
    /* not JSON */
  }
  return ['(no code)'];
}

async function main(): Promise<number> {
  const o = options();
  const total = o.plays ?? (o.durationMs ? Infinity : 10_000);
  const started = Date.now();
  const deadline = o.durationMs ? started + o.durationMs : Infinity;
  const stop = new AbortController();
  const deadlineTimer = o.durationMs ? setTimeout(() => stop.abort(), o.durationMs) : undefined;
  const next = playGenerator({ seed: o.seed, day: o.day, users: o.users, tracks: o.tracks });
  const s: Stats = { sent: 0, accepted: 0, rejected: 0, failed: 0, abandoned: 0, retried: 0, status: new Map(), codes: new Map() };
  // Latencies in µs, 1 µs to 10 min at 3 significant digits: fixed memory however long the run.
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  const tty = process.stderr.isTTY;
  /** When the server last answered anything (the start, before it has). */
  let lastAnswerAt = started;
  const progress = setInterval(
    () => {
      const secs = (Date.now() - started) / 1000;
      const line = `sent ${s.sent} accepted ${s.accepted} rejected ${s.rejected} failed ${s.failed} ${[...s.status].map(([k, v]) => `${k}:${v}`).join(' ')} ${(s.accepted / secs).toFixed(0)} plays/s`;
      process.stderr.write(tty ? `\r${line}   ` : `${line}\n`);
    },
    tty ? 250 : 5_000,
  );

  function request(plays: Record<string, unknown>[]): { url: string; body: Buffer | string; headers: Record<string, string> } {
    let url: string;
    let body: unknown;
    if (o.route === 'v12') {
      // 7digital shape: one user per request, country and userId in the query.
      const first = plays[0]!;
      const items = plays.map((p) => ({
        ...p,
        logType: undefined,
        country: undefined,
        userId: undefined,
        playId: undefined,
        endReason: undefined,
        playMode: p.playMode ?? 'online',
      }));
      url = `${o.url}/1.2/user/subscription/log?country=${String(first.country)}&userId=${encodeURIComponent(String(first.userId))}`;
      body = { playLogItem: items };
    } else {
      url = `${o.url}/v1/play-logs`;
      body = { plays };
    }
    const json = JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${o.key}`, 'content-type': 'application/json' };
    if (o.gzip) headers['content-encoding'] = 'gzip';
    return { url, body: o.gzip ? gzipSync(json) : json, headers };
  }

  /** Sends one batch, retrying 429/503/no answer; settles the batch's plays in the stats. */
  async function send(): Promise<void> {
    const n = Math.min(o.batch, total - s.sent);
    if (n <= 0) return;
    s.sent += n;
    const req = request(Array.from({ length: n }, next));
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      let status: number;
      let text: string;
      let retryAfterMs = Math.min(10_000, 250 * 2 ** attempt);
      try {
        const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: stop.signal });
        text = await res.text();
        status = res.status;
        const ra = Number(res.headers.get('retry-after'));
        if (ra > 0) retryAfterMs = Math.min(ra * 1000, 30_000);
      } catch (err) {
        if (stop.signal.aborted) {
          s.abandoned += n;
          return;
        }
        status = 0;
        // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a TLS error) is its cause.
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        text = cause?.message ?? (err as Error).message;
        if (Date.now() - lastAnswerAt >= o.giveUpMs) {
          s.unreachable ??= `no answer from ${o.url} for ${o.giveUpMs / 1000} s: ${text}`;
          s.failed += n;
          stop.abort();
          return;
        }
      }
      if (status !== 0) lastAnswerAt = Date.now();
      latency.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      bump(s.status, status === 0 ? 'no answer' : String(status));
      if ((status === 0 || status === 429 || status === 503) && attempt < o.retries && Date.now() + retryAfterMs < deadline) {
        s.retried++;
        await sleep(retryAfterMs, undefined, { signal: stop.signal }).catch(() => undefined);
        if (stop.signal.aborted) {
          s.abandoned += n;
          return;
        }
        continue;
      }
      if (status === 200) s.accepted += n;
      else if (status === 202 || status === 207) {
        const r = JSON.parse(text) as { accepted: number; rejected: number };
        s.accepted += r.accepted;
        s.rejected += r.rejected;
        if (status === 207) for (const c of errorCodes(text)) bump(s.codes, c);
      } else {
        if (status === 0) bump(s.codes, `no answer (${text})`);
        else for (const c of errorCodes(text)) bump(s.codes, c);
        if (status === 400) s.rejected += n;
        else s.failed += n;
      }
      return;
    }
  }

  const interval = o.rate > 0 ? (o.batch / o.rate) * 1000 * o.concurrency : 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, w) => {
      let at = Date.now() + (interval / o.concurrency) * w;
      while (s.sent < total && Date.now() < deadline && !stop.signal.aborted) {
        if (interval > 0) {
          const wait = at - Date.now();
          if (wait > 0) await sleep(wait, undefined, { signal: stop.signal }).catch(() => undefined);
          if (stop.signal.aborted) break;
          at += interval;
        }
        await send();
      }
    }),
  );
  clearTimeout(deadlineTimer);
  clearInterval(progress);
  if (tty) process.stderr.write('\n');
  const secs = (Date.now() - started) / 1000;
  const ms = (p: number) => (latency.totalCount ? Number((latency.getValueAtPercentile(p) / 1000).toFixed(1)) : null);
  console.log(
    JSON.stringify({
      sent: s.sent,
      accepted: s.accepted,
      rejected: s.rejected,
      failed: s.failed,
      abandonedAtDeadline: s.abandoned,
      retries: s.retried,
      status: Object.fromEntries(s.status),
      errorCodes: Object.fromEntries(s.codes),
      seconds: Number(secs.toFixed(2)),
      acceptedPerSecond: Math.round(s.accepted / secs),
      latencyMs: { p50: ms(50), p99: ms(99), max: latency.totalCount ? Number((latency.maxValue / 1000).toFixed(1)) : null },
    }),
  );
  if (s.unreachable) {
    console.error(`loadgen: ${s.unreachable}`);
    return 1;
  }
  if (s.failed > 0 || s.rejected > 0) {
    console.error(
      `loadgen: ${s.failed} play(s) failed and ${s.rejected} were rejected; server codes: ${[...s.codes].map(([k, v]) => `${k} ×${v}`).join(', ')}`,
    );
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`loadgen: ${(err as Error).message}`);
    process.exit(1);
  },
);
