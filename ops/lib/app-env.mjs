// Checks deployment environments against the apps' own config loaders (the built dist/ of
// apps/*/src/config.ts): every variable an app reads is set (with --require-all), and every value
// passes the app's validation, exactly as at boot.
// usage: node ops/lib/app-env.mjs [--require-all] [--apps APP,…] LABEL ENVS.json
//   ENVS.json: {"ingest": {VAR: value}, ...}. --apps: the apps the deployment runs (default all four:
//   ingest, loader, reporter, migrate); each must have an environment, and only those are checked
//   (a production site runs some of them: k8s/overlays/production/edge only ingest).
// Prints PASS/FAIL lines; exits 1 on any failure.
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const load = (p) => import(new URL(p, root).href);

const args = process.argv.slice(2);
let requireAll = false;
let only;
while (args[0]?.startsWith('--')) {
  const opt = args.shift();
  if (opt === '--require-all') requireAll = true;
  else if (opt === '--apps') only = (args.shift() ?? '').split(',').filter(Boolean);
  else {
    console.error(`app-env: unknown option ${opt}`);
    process.exit(2);
  }
}
const [label, file] = args;
const envs = JSON.parse(readFileSync(file, 'utf8'));

const { env, loadConfig } = await load('libs/config/dist/index.js');

/**
 * What each app reads besides its own spec: its Kafka client's settings (libs/config credentials.ts)
 * and the files of its secrets. A deployment must set them all (--require-all). The files themselves
 * are checked by the manifests' check (each a key of a mounted Secret or ConfigMap); here stand-ins of
 * the right kind (libs/testing's fixtures) take their place, so the loaders can parse them.
 */
const KAFKA = ['KAFKA_SECURITY_PROTOCOL', 'KAFKA_SSL_CA_LOCATION', 'KAFKA_SSL_CERTIFICATE_LOCATION', 'KAFKA_SSL_KEY_LOCATION'];
const CREDENTIALS = {
  ingest: [...KAFKA, 'KEY_FEED_PUBLIC_KEY_FILE'],
  loader: [...KAFKA, 'KEY_FEED_SIGNING_KEY_FILE', 'GATE_SECRET_FILE'],
  reporter: [...KAFKA, 'GATE_SECRET_FILE'],
  migrate: [],
};
const fixtures = new URL('libs/testing/fixtures/credentials/', root).pathname;
const STAND_INS = {
  KAFKA_SSL_CA_LOCATION: 'ca.crt',
  KAFKA_SSL_CERTIFICATE_LOCATION: 'admin.crt',
  KAFKA_SSL_KEY_LOCATION: 'admin.key',
  EDGE_KAFKA_SSL_CA_LOCATION: 'ca.crt',
  EDGE_KAFKA_SSL_CERTIFICATE_LOCATION: 'admin.crt',
  EDGE_KAFKA_SSL_KEY_LOCATION: 'admin.key',
  KEY_FEED_PUBLIC_KEY_FILE: 'key-feed.pub',
  KEY_FEED_SIGNING_KEY_FILE: 'key-feed.key',
  GATE_SECRET_FILE: 'gate.secret',
};
const withStandIns = (given) =>
  Object.fromEntries(
    Object.entries(given).map(([k, v]) => {
      if (k === 'PLAYLOG_CREDENTIALS_DIR' && v) return [k, fixtures.replace(/\/$/, '')]; // each file under it by its usual name
      return [k, k in STAND_INS && v ? fixtures + STAND_INS[k] : v];
    }),
  );
const apps = {
  ingest: await load('apps/ingest/dist/config.js').then((m) => [m.ingestConfigSpec, m.loadIngestConfig]),
  loader: await load('apps/loader/dist/config.js').then((m) => [m.loaderConfigSpec, m.loadLoaderConfig]),
  reporter: await load('apps/reporter/dist/config.js').then((m) => [m.reporterConfigSpec, m.loadReporterConfig]),
  // libs/db/src/migrate-cli.ts reads only this.
  migrate: ((spec) => [spec, (source) => loadConfig(spec, source)])({ databaseUrl: env.postgresUrl('DATABASE_URL', 'postgres://x@y/z') }),
};

const unknown = (only ?? []).filter((app) => !(app in apps));
if (unknown.length || only?.length === 0) {
  console.error(`app-env: --apps takes a comma-separated list of ${Object.keys(apps).join(', ')}; got ${only.join(',') || 'none'}`);
  process.exit(2);
}

let failed = 0;
for (const [app, [spec, loadFn]] of Object.entries(apps).filter(([app]) => !only || only.includes(app))) {
  const given = envs[app];
  const problems = [];
  if (!given) problems.push('no environment found for this app');
  else {
    const variables = [...Object.values(spec).map((r) => r.variable), ...CREDENTIALS[app]];
    if (requireAll) {
      const missing = variables.filter((v) => !(v in given));
      if (missing.length) problems.push(`not wired: ${missing.join(', ')}`);
    }
    try {
      loadFn(withStandIns(given));
    } catch (err) {
      problems.push(String(err.message).replace(/\n\s*/g, '; '));
    }
  }
  const what = requireAll ? 'sets every variable the app reads, with values' : 'values';
  console.log(`${problems.length ? 'FAIL' : 'PASS'} ${label}: ${app} ${what} its config loader accepts`);
  for (const p of problems) console.log(`    - ${p}`);
  failed += problems.length ? 1 : 0;
}
process.exit(failed ? 1 : 0);
