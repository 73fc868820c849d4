import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { playGenerator } from './plays.js';

const USAGE = `usage: npm run loadgen -- --url URL --key KEY [--rate PLAYS_PER_S] [--duration S | --plays N] [--batch N]
                            [--route bulk|v12] [--day YYYY-MM-DD] [--seed N] [--users N] [--concurrency N] [--gzip]
  Sends realistic plays to a Playlog ingest and prints what was accepted. --rate 0 sends as fast as it can.`;

interface Stats {
  sent: number;
  accepted: number;
  rejected: number;
  status: Map<number, number>;
  latencies: number[];
  errors: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
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
      gzip: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.key) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const rate = Number(values.rate);
  const batch = Math.max(1, Number(values.batch));
  const total = values.plays ? Number(values.plays) : values.duration ? Infinity : 10_000;
  const deadline = values.duration ? Date.now() + Number(values.duration) * 1000 : Infinity;
  const concurrency = Math.max(1, Number(values.concurrency));
  const next = playGenerator({ seed: Number(values.seed), day: values.day, users: Number(values.users), tracks: Number(values.tracks) });
  const base = values.url.replace(/\/$/, '');
  const s: Stats = { sent: 0, accepted: 0, rejected: 0, status: new Map(), latencies: [], errors: 0 };
  const started = Date.now();
  const tty = process.stderr.isTTY;
  const progress = setInterval(
    () => {
      const secs = (Date.now() - started) / 1000;
      const line = `sent ${s.sent} accepted ${s.accepted} rejected ${s.rejected} ${[...s.status].map(([k, v]) => `${k}:${v}`).join(' ')} ${(s.accepted / secs).toFixed(0)} plays/s`;
      process.stderr.write(tty ? `\r${line}   ` : `${line}\n`);
    },
    tty ? 250 : 5_000,
  );

  async function send(): Promise<void> {
    const n = Math.min(batch, total - s.sent);
    if (n <= 0) return;
    s.sent += n;
    const plays = Array.from({ length: n }, next);
    let url: string;
    let body: unknown;
    if (values.route === 'v12') {
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
      url = `${base}/1.2/user/subscription/log?country=${first.country}&userId=${encodeURIComponent(String(first.userId))}`;
      body = { playLogItem: items };
    } else {
      url = `${base}/v1/play-logs`;
      body = { plays };
    }
    const json = JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${values.key}`, 'content-type': 'application/json' };
    const t0 = performance.now();
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: values.gzip ? { ...headers, 'content-encoding': 'gzip' } : headers,
        body: values.gzip ? gzipSync(json) : json,
      });
      const text = await res.text();
      s.latencies.push(performance.now() - t0);
      s.status.set(res.status, (s.status.get(res.status) ?? 0) + 1);
      if (res.status === 200) s.accepted += n;
      else if (res.status === 202 || res.status === 207) {
        const r = JSON.parse(text) as { accepted: number; rejected: number };
        s.accepted += r.accepted;
        s.rejected += r.rejected;
      } else if (res.status === 400) s.rejected += n;
    } catch {
      s.errors++;
    }
  }

  const interval = rate > 0 ? (batch / rate) * 1000 * concurrency : 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let at = Date.now() + (interval / concurrency) * w;
      while (s.sent < total && Date.now() < deadline) {
        if (interval > 0) {
          const wait = at - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          at += interval;
        }
        await send();
      }
    }),
  );
  clearInterval(progress);
  if (tty) process.stderr.write('\n');
  const secs = (Date.now() - started) / 1000;
  const lat = s.latencies.sort((a, b) => a - b);
  const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(1) : 'n/a');
  console.log(
    JSON.stringify({
      sent: s.sent,
      accepted: s.accepted,
      rejected: s.rejected,
      transportErrors: s.errors,
      status: Object.fromEntries(s.status),
      seconds: Number(secs.toFixed(2)),
      acceptedPerSecond: Math.round(s.accepted / secs),
      latencyMs: { p50: q(0.5), p99: q(0.99), max: q(1) },
    }),
  );
  return s.errors > 0 || [...s.status.keys()].some((k) => k >= 500) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`loadgen: ${(err as Error).message}`);
    process.exit(1);
  },
);
