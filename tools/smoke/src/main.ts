import { commandLine, usageError } from '@playlog/config';
import { createPool } from '@playlog/db';
import { LIMITS } from '@playlog/schema';

const USAGE = `usage: npm run smoke -- --url URL --key KEY [--metrics-url URL] [--loader-url URL] [--database-url URL]
                          [--timeout SECONDS] [--store-timeout SECONDS] [--country CC]
  Proves a deployment works: GET /healthz and /readyz on ingest (and /metrics on --metrics-url, the
  ingest's METRICS_PORT; the loader's probes and metrics with --loader-url), then checks that the key is a
  smoke key (GET /v1/key), POSTs one synthetic play to /v1/play-logs, expects it accepted (202), and with
  --database-url waits until the loader has stored it in Postgres.
  The key must be named "smoke" (npm run keys -- create --client C --name smoke): plays sent with it are
  stored but never reported. With any other key the smoke test refuses to send anything.
  The key may come from PLAYLOG_SMOKE_KEY instead of --key (keeps it out of shell history and ps).
  Exit 0: all passed; 1: a step failed; 2: usage.`;

/** Header asking ingest to store the play as synthetic (refused, 403, for keys not named "smoke"). */
const SYNTHETIC_HEADER = 'X-Playlog-Synthetic';

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

function json<T>(body: string, what: string): T {
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new StepFailed(`${what} answered with a body that is not JSON: ${short(body)}`);
  }
}

const seconds = (flag: string, v: string): number => {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) usageError('smoke', USAGE, `${flag} must be a positive number of seconds (got ${v})`);
  return n * 1000;
};

async function main(): Promise<number> {
  const { values } = commandLine('smoke', USAGE, process.argv.slice(2), {
    url: { type: 'string' },
    key: { type: 'string' },
    'metrics-url': { type: 'string' },
    'loader-url': { type: 'string' },
    'database-url': { type: 'string' },
    timeout: { type: 'string', default: '10' },
    'store-timeout': { type: 'string', default: '60' },
    country: { type: 'string', default: 'GB' },
  });
  const key = values.key ?? process.env.PLAYLOG_SMOKE_KEY;
  if (!values.url) usageError('smoke', USAGE, '--url is required');
  if (!key) usageError('smoke', USAGE, '--key (or PLAYLOG_SMOKE_KEY) is required');
  const timeoutMs = seconds('--timeout', values.timeout);
  const storeTimeoutMs = seconds('--store-timeout', values['store-timeout']);
  const ingest = values.url.replace(/\/+$/, '');
  const loader = values['loader-url']?.replace(/\/+$/, '');
  const ingestMetrics = values['metrics-url']?.replace(/\/+$/, '');
  const auth = { authorization: `Bearer ${key}` };

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
  if (ingestMetrics) probe('ingest', ingestMetrics, '/metrics', hasMetric('playlog_http_request_duration_seconds'));
  if (loader) {
    probe('loader', loader, '/healthz');
    probe('loader', loader, '/readyz');
    probe('loader', loader, '/metrics', hasMetric('playlog_loader_last_tick_timestamp_seconds'));
  }

  let client = '';
  steps.push({
    name: 'ingest GET /v1/key (the key must be a smoke key)',
    run: async () => {
      const r = await request(`${ingest}/v1/key`, { headers: auth }, timeoutMs);
      if (r.status === 401) throw new StepFailed(`the API key was refused (401): ${short(r.body)}`);
      if (r.status !== 200) throw new StepFailed(`expected 200, got ${r.status}: ${short(r.body)}`);
      const k = json<{ client: string; name: string; synthetic: boolean }>(r.body, '/v1/key');
      if (!k.synthetic) {
        throw new StepFailed(
          `refusing to send: this key (client ${k.client}, named "${k.name}") sends real plays, which would be reported ` +
            `to labels. Create a smoke key: npm run keys -- create --client ${k.client} --name smoke`,
        );
      }
      client = k.client;
      return `client ${k.client}, key "${k.name}": its plays are synthetic`;
    },
  });

  const now = new Date();
  const id = `smoke-${now.getTime()}`.slice(0, Math.min(LIMITS.playIdLength, LIMITS.userIdLength));
  // The bulk route's play shape (libs/schema PlayInput); 0 seconds, so never royalty-bearing either.
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
          headers: { ...auth, 'content-type': 'application/json', [SYNTHETIC_HEADER]: '1' },
          body: JSON.stringify({ plays: [play] }),
        },
        timeoutMs,
      );
      if (r.status !== 202) throw new StepFailed(`expected 202 with the play accepted, got ${r.status}: ${short(r.body)}`);
      const accepted = json<{ accepted?: unknown }>(r.body, 'POST /v1/play-logs').accepted;
      if (accepted !== 1) throw new StepFailed(`202 but accepted=${String(accepted)}: ${short(r.body)}`);
      return `202 accepted 1 (playId ${id}) in ${r.ms} ms`;
    },
  });

  const databaseUrl = values['database-url'];
  if (databaseUrl) {
    steps.push({
      name: 'Postgres: the loader stored the play, as synthetic',
      run: async () => {
        const pool = createPool(databaseUrl, 1, 'playlog-smoke', { statementTimeoutMs: 5_000 });
        const t0 = Date.now();
        try {
          for (;;) {
            const r = await pool
              .query<{ synthetic: boolean }>('select synthetic from plays where client = $1 and client_play_id = $2', [client, id])
              .catch((err: Error) => {
                throw new StepFailed(`cannot query Postgres at --database-url: ${err.message}`);
              });
            const row = r.rows[0];
            if (row && !row.synthetic) throw new StepFailed('the play was stored as a real play: it would be reported');
            if (row) return `stored in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
            if (Date.now() - t0 > storeTimeoutMs) {
              throw new StepFailed(`not in Postgres after ${storeTimeoutMs / 1000} s: is the loader running and caught up (its lag)?`);
            }
            await new Promise((r) => setTimeout(r, 500));
          }
        } finally {
          await pool.end();
        }
      },
    });
  }

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
  if (!databaseUrl) {
    console.log('note  not confirmed that the play reached Postgres: pass --database-url to wait for the loader to store it');
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
