import { parseArgs } from 'node:util';
import { LIMITS } from '@playlog/schema';

const USAGE = `usage: npm run smoke -- --url URL --key KEY [--loader-url URL] [--timeout SECONDS] [--country CC]
  Proves a deployment works: GET /healthz, /readyz and /metrics on ingest (and on the loader with
  --loader-url), then POSTs one synthetic play to /v1/play-logs and expects it accepted (202).
  The key may come from PLAYLOG_SMOKE_KEY instead of --key (keeps it out of shell history and ps).
  The play is marked synthetic (header X-Playlog-Synthetic: 1, userId smoke-<timestamp>, 0 seconds
  played) so that it never counts in a report. Exit 0: all passed; 1: a step failed; 2: usage.`;

/** Header asking ingest to store the play as synthetic (honoured only for keys named "smoke"). */
export const SYNTHETIC_HEADER = 'X-Playlog-Synthetic';

class StepFailed extends Error {}

/** Why a request never got an answer, in an operator's words. */
function transportError(url: string, err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer from ${url} within the timeout`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return `cannot connect to ${url}: connection refused (is it running, is the port right?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host of ${url}`;
  if (code === 'ECONNRESET') return `connection to ${url} was reset`;
  return `request to ${url} failed: ${e.cause?.message ?? e.message ?? String(err)}`;
}

async function request(url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (err) {
    throw new StepFailed(transportError(url, err));
  }
  const body = await res.text().catch(() => '');
  return { status: res.status, body, ms: Math.round(performance.now() - t0) };
}

function short(body: string): string {
  const one = body.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}…` : one;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        key: { type: 'string' },
        'loader-url': { type: 'string' },
        timeout: { type: 'string', default: '10' },
        country: { type: 'string', default: 'GB' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`smoke: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const key = values.key ?? process.env.PLAYLOG_SMOKE_KEY;
  const timeoutMs = Number(values.timeout) * 1000;
  if (!values.url || !key || !(timeoutMs > 0)) {
    console.error(
      `smoke: ${!values.url ? '--url is required' : !key ? '--key (or PLAYLOG_SMOKE_KEY) is required' : '--timeout must be a positive number'}\n${USAGE}`,
    );
    return 2;
  }
  const ingest = values.url.replace(/\/+$/, '');
  const loader = values['loader-url']?.replace(/\/+$/, '');

  const steps: { name: string; run: () => Promise<string> }[] = [];
  const probe = (what: string, base: string, path: string, check?: (body: string) => string | undefined) =>
    steps.push({
      name: `${what} GET ${path}`,
      run: async () => {
        const r = await request(`${base}${path}`, { headers: { accept: 'application/json, text/plain' } }, timeoutMs);
        if (r.status !== 200) throw new StepFailed(`${base}${path} answered ${r.status}: ${short(r.body)}`);
        const problem = check?.(r.body);
        if (problem) throw new StepFailed(`${base}${path}: ${problem}`);
        return `200 in ${r.ms} ms`;
      },
    });
  const hasMetric = (name: string) => (body: string) => (body.includes(`# TYPE ${name} `) ? undefined : `no ${name} in the output`);

  probe('ingest', ingest, '/healthz');
  probe('ingest', ingest, '/readyz');
  probe('ingest', ingest, '/metrics', hasMetric('playlog_http_request_duration_seconds'));
  if (loader) {
    probe('loader', loader, '/healthz');
    probe('loader', loader, '/readyz');
    probe('loader', loader, '/metrics', hasMetric('playlog_loader_last_tick_timestamp_seconds'));
  }
  const now = new Date();
  const id = `smoke-${now.getTime()}`.slice(0, Math.min(LIMITS.playIdLength, LIMITS.userIdLength));
  // The bulk route's play shape (libs/schema BulkPlay).
  const play = {
    logType: 'subscription',
    userId: id,
    playId: id,
    country: values.country,
    trackId: 0,
    releaseId: 0,
    formatId: 0,
    playMode: 'online',
    dateTimePlayed: now.toISOString(),
    // 0 seconds: even if it were ever counted, it is not royalty-bearing.
    totalTimePlayed: 0,
    userAgent: 'playlog-smoke/1',
  };
  steps.push({
    name: 'ingest POST /v1/play-logs (1 synthetic play)',
    run: async () => {
      const r = await request(
        `${ingest}/v1/play-logs`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', [SYNTHETIC_HEADER]: '1' },
          body: JSON.stringify({ plays: [play] }),
        },
        timeoutMs,
      );
      if (r.status === 401) throw new StepFailed(`the API key was refused (401): ${short(r.body)}`);
      if (r.status !== 202) throw new StepFailed(`expected 202 with the play accepted, got ${r.status}: ${short(r.body)}`);
      let accepted: unknown;
      try {
        accepted = (JSON.parse(r.body) as { accepted?: unknown }).accepted;
      } catch {
        throw new StepFailed(`202 with a body that is not JSON: ${short(r.body)}`);
      }
      if (accepted !== 1) throw new StepFailed(`202 but accepted=${String(accepted)}: ${short(r.body)}`);
      return `202 accepted 1 (playId ${id}) in ${r.ms} ms`;
    },
  });

  for (const step of steps) {
    try {
      console.log(`ok    ${step.name}: ${await step.run()}`);
    } catch (err) {
      const msg = err instanceof StepFailed ? err.message : `unexpected error: ${(err as Error).stack ?? String(err)}`;
      console.log(`FAIL  ${step.name}: ${msg}`);
      console.error(`smoke: FAILED at "${step.name}"`);
      return 1;
    }
  }
  console.log(`smoke: all ${steps.length} checks passed`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('smoke: crashed:', err);
    process.exit(1);
  },
);
