import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, env, loadConfig } from './env.js';

/**
 * Who each part is, to Kafka and to Postgres (docs/security.md). Every part connects as its own
 * principal: a client certificate whose CN names it (mutual TLS) for Kafka, and its own role for
 * Postgres. With nothing set, a part uses the local stack's credentials for its principal, which
 * `npm run stack -- up` makes under `PLAYLOG_CREDENTIALS_DIR` (default `.stack/pki` of this checkout),
 * so `npm run ingest` and friends start against the local stack as themselves.
 */
export type Principal = 'ingest' | 'loader' | 'reporter' | 'keys' | 'migrate' | 'admin';

/** The local stack's credentials directory: PLAYLOG_CREDENTIALS_DIR, else `$PLAYLOG_STACK_DIR/pki`, else this checkout's. */
export function credentialsDir(source: NodeJS.ProcessEnv = process.env): string {
  const set = source.PLAYLOG_CREDENTIALS_DIR?.trim();
  if (set) return set;
  const stack = source.PLAYLOG_STACK_DIR?.trim();
  return stack ? `${stack}/pki` : join(checkoutRoot(), '.stack', 'pki');
}

/**
 * The checkout this module runs from: the nearest folder above it with nx.json. Found by looking, not by a
 * fixed number of `..`: this module runs from libs/config/src (tests), libs/config/dist, and bundled into an
 * app's dist/bundle (tools/build/bundle.mjs). Outside a checkout (an image), the working directory.
 */
function checkoutRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** A Kafka cluster and how to reach it as one principal: the bootstrap list and librdkafka's client settings. */
export interface KafkaClient {
  brokers: string;
  /** librdkafka properties: security.protocol and the ssl. / sasl. settings it needs. */
  settings: Record<string, string>;
}

export const KAFKA_PROTOCOLS = ['ssl', 'sasl_ssl', 'plaintext'] as const;
export const SASL_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const;

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Kafka client settings of `principal` from `<prefix>_BROKERS`, `<prefix>_SECURITY_PROTOCOL` and the
 * librdkafka properties it needs, each as `<prefix>_` + the property in upper case with `_` for `.`
 * (`KAFKA_SSL_CA_LOCATION`, …). Defaults: mutual TLS (`ssl`) with the principal's certificate from the
 * local stack. `fallback` (the reporter's edge connection): any variable unset takes the fallback's
 * value. Files are checked at boot, so a missing certificate stops the app with the variable's name.
 */
export function kafkaClientConfig(
  principal: Principal,
  source: NodeJS.ProcessEnv = process.env,
  opts: { prefix?: string; brokers?: string; fallback?: KafkaClient } = {},
): KafkaClient {
  const p = opts.prefix ?? 'KAFKA';
  const fb = opts.fallback?.settings ?? {};
  const dir = credentialsDir(source);
  const local = (file: string) => (opts.fallback ? '' : `${dir}/${file}`);
  const cfg = loadConfig(
    {
      brokers: opts.fallback ? env.brokersOrEmpty(`${p}_BROKERS`) : env.brokers(`${p}_BROKERS`, opts.brokers ?? ''),
      protocol: env.oneOf(`${p}_SECURITY_PROTOCOL`, (fb['security.protocol'] as 'ssl' | undefined) ?? 'ssl', KAFKA_PROTOCOLS),
      ca: env.string(`${p}_SSL_CA_LOCATION`, fb['ssl.ca.location'] ?? local('ca.crt')),
      certificate: env.string(`${p}_SSL_CERTIFICATE_LOCATION`, fb['ssl.certificate.location'] ?? local(`${principal}.crt`)),
      key: env.string(`${p}_SSL_KEY_LOCATION`, fb['ssl.key.location'] ?? local(`${principal}.key`)),
      keyPassword: env.string(`${p}_SSL_KEY_PASSWORD`, fb['ssl.key.password'] ?? ''),
      mechanism: env.string(`${p}_SASL_MECHANISM`, fb['sasl.mechanism'] ?? ''),
      username: env.string(`${p}_SASL_USERNAME`, fb['sasl.username'] ?? ''),
      password: env.string(`${p}_SASL_PASSWORD`, fb['sasl.password'] ?? ''),
    },
    source,
  );
  const brokers = cfg.brokers || opts.fallback?.brokers || '';
  const problems: string[] = [];
  const settings: Record<string, string> = { 'security.protocol': cfg.protocol };
  const file = (variable: string, path: string, property: string) => {
    if (!path) problems.push(`${p}_${variable}: is required with ${p}_SECURITY_PROTOCOL=${cfg.protocol}`);
    else if (!readable(path)) {
      problems.push(`${p}_${variable}: no readable file at ${path} (the local stack makes its credentials on npm run stack -- up)`);
    } else settings[property] = path;
  };
  if (cfg.protocol !== 'plaintext') file('SSL_CA_LOCATION', cfg.ca, 'ssl.ca.location');
  if (cfg.protocol === 'ssl') {
    file('SSL_CERTIFICATE_LOCATION', cfg.certificate, 'ssl.certificate.location');
    file('SSL_KEY_LOCATION', cfg.key, 'ssl.key.location');
    if (cfg.keyPassword) settings['ssl.key.password'] = cfg.keyPassword;
  }
  if (cfg.protocol === 'sasl_ssl') {
    if (!(SASL_MECHANISMS as readonly string[]).includes(cfg.mechanism)) {
      problems.push(
        `${p}_SASL_MECHANISM: must be one of ${SASL_MECHANISMS.join(', ')} with sasl_ssl (got ${JSON.stringify(cfg.mechanism)})`,
      );
    }
    if (!cfg.username || !cfg.password) problems.push(`${p}_SASL_USERNAME / ${p}_SASL_PASSWORD: are required with sasl_ssl`);
    Object.assign(settings, { 'sasl.mechanism': cfg.mechanism, 'sasl.username': cfg.username, 'sasl.password': cfg.password });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { brokers, settings };
}

/** The Postgres role of each principal that has one (ingest has none). */
export const DATABASE_ROLES: Partial<Record<Principal, string>> = {
  admin: 'playlog',
  migrate: 'playlog_migrate',
  loader: 'playlog_loader',
  reporter: 'playlog_reporter',
  keys: 'playlog_keys',
};

/**
 * `url` as `principal` connects with it. A URL that names a user is used as it is (production: each app's
 * own DATABASE_URL, from its Secret). One without a user (what `npm run stack -- env` prints, and the
 * default) gets the principal's role and, unless the URL says otherwise, TLS that verifies the server
 * (`sslmode=verify-full`, the stack's CA) and the principal's client certificate.
 */
export function databaseUrlAs(principal: Principal, url: string, source: NodeJS.ProcessEnv = process.env): string {
  const u = new URL(url);
  if (u.username) return url;
  const role = DATABASE_ROLES[principal];
  if (!role) throw new Error(`${principal} has no database role`);
  const dir = credentialsDir(source);
  u.username = role;
  const q = u.searchParams;
  if (!q.has('sslmode')) q.set('sslmode', 'verify-full');
  if (q.get('sslmode') !== 'disable') {
    if (!q.has('sslrootcert')) q.set('sslrootcert', `${dir}/ca.crt`);
    if (!q.has('sslcert')) {
      q.set('sslcert', `${dir}/${principal}.crt`);
      q.set('sslkey', `${dir}/${principal}.key`);
    }
  }
  return u.toString();
}

/**
 * A secret a part's job needs, read from the files `variable` names (comma-separated; default:
 * `fileName` in the credentials directory) and turned into what it is by `parse` (the key feed's
 * signing or public keys, the gate's secret). A file that cannot be read or parsed stops the app at
 * boot, naming the variable.
 */
export function secretFile<T>(
  variable: string,
  fileName: string,
  parse: (contents: Buffer[]) => T,
  source: NodeJS.ProcessEnv = process.env,
): T {
  const set = source[variable]?.trim();
  const paths = set
    ? set
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
    : [`${credentialsDir(source)}/${fileName}`];
  const contents: Buffer[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    try {
      contents.push(readFileSync(path));
    } catch (err) {
      problems.push(
        `${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; the local stack makes it on npm run stack -- up)`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  try {
    return parse(contents);
  } catch (err) {
    throw new ConfigError([`${variable}: ${(err as Error).message} (${paths.join(', ')})`]);
  }
}
