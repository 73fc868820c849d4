import { envSchema } from 'env-schema';
import { Type, type TSchema } from 'typebox';

/**
 * Configuration from the environment, validated once at boot.
 *
 * Each app declares a spec: one setting per value, naming the variable, its default and its rule as a
 * TypeBox schema. `loadConfig` validates them all at once with env-schema (fastify's; ajv with type
 * coercion and defaults) and throws one ConfigError that names every bad variable with the rule it
 * broke and what it was given, so a misconfigured pod fails fast with a message an operator can act on.
 */
export class ConfigError extends Error {
  readonly code = 'PLAYLOG_CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface Reader<T> {
  readonly variable: string;
  /** The variable's rule, as JSON Schema for its (trimmed) text; ajv coerces it to the schema's type. */
  readonly schema: TSchema;
  /** The rule in words, for the error message. */
  readonly rule: string;
  /** Turns the validated value into the setting (identity unless given). */
  readonly convert?: (value: unknown) => T;
  /** Rewrites the text before validation (booleans' spellings). */
  readonly spell?: (raw: string) => string;
}

type Spec<T> = { [K in keyof T]: Reader<T[K]> };

/** Formats ajv does not have: checked by code, named in the settings' schemas. */
const FORMATS: Record<string, (value: string) => boolean> = {
  'host-port-list': (v) => v.split(',').every((p) => /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(p.trim())),
  'postgres-url': (v) => {
    try {
      return ['postgres:', 'postgresql:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  },
  'iana-time-zone': (v) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: v });
      return true;
    } catch {
      return false;
    }
  },
};

function describe(raw: string | undefined): string {
  return raw === undefined ? 'unset' : `got ${JSON.stringify(raw.length > 80 ? raw.slice(0, 80) + '…' : raw)}`;
}

export function loadConfig<T>(spec: Spec<T>, source: NodeJS.ProcessEnv = process.env): T {
  const keys = Object.keys(spec) as (keyof T)[];
  const properties: Record<string, TSchema> = {};
  const data: Record<string, string> = {};
  for (const key of keys) {
    const { variable, schema, spell } = spec[key];
    properties[variable] = schema;
    const raw = source[variable]?.trim();
    if (raw) data[variable] = spell ? spell(raw) : raw; // empty means unset: the default applies
  }
  const required = keys
    .map((k) => spec[k])
    .filter((r) => !('default' in r.schema))
    .map((r) => r.variable);
  let valid: Record<string, unknown>;
  try {
    valid = envSchema({
      schema: Type.Object(properties, { required }),
      data,
      env: false,
      ajv: {
        customOptions: (ajv) => {
          for (const [name, check] of Object.entries(FORMATS)) ajv.addFormat(name, check);
          return ajv;
        },
      },
    });
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; keyword: string; params: { missingProperty?: string } }[] }).errors;
    if (!errors) throw err;
    const bad = new Set(errors.map((e) => (e.keyword === 'required' ? e.params.missingProperty : e.instancePath.split('/')[1])));
    const problems = keys
      .map((k) => spec[k])
      .filter((r) => bad.has(r.variable))
      .map((r) => {
        const raw = source[r.variable]?.trim() ? source[r.variable] : undefined;
        return `${r.variable}: ${raw === undefined ? 'is required' : r.rule} (${describe(raw)})`;
      });
    throw new ConfigError(problems);
  }
  const out: Partial<T> = {};
  for (const key of keys) {
    const { variable, convert } = spec[key];
    out[key] = (convert ? convert(valid[variable]) : valid[variable]) as T[keyof T];
  }
  return out as T;
}

/**
 * Runs several config loaders and returns their results, or throws one ConfigError naming every bad
 * variable of all of them (an app's own settings, its Kafka client's, …), so one boot says it all.
 */
export function loadAll<const T extends readonly (() => unknown)[]>(...loaders: T): { [K in keyof T]: ReturnType<T[K]> } {
  const problems: string[] = [];
  const out = loaders.map((load) => {
    try {
      return load();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
      return undefined;
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return out as { [K in keyof T]: ReturnType<T[K]> };
}

/** A schema with its default when there is one (no default: the variable is required). */
function withDefault<S extends TSchema>(schema: S, fallback: unknown): S {
  return fallback === undefined ? schema : ({ ...schema, default: fallback } as S);
}

const BOOLEAN_SPELLINGS: Record<string, string> = { '1': 'true', yes: 'true', on: 'true', '0': 'false', no: 'false', off: 'false' };

export const env = {
  string(variable: string, fallback?: string): Reader<string> {
    return { variable, schema: withDefault(Type.String(), fallback), rule: 'must be text' };
  },

  /** A whole number written as digits (not 1e3 or 0x10, which JSON's number coercion would take). */
  int(variable: string, fallback: number | undefined, min: number, max: number): Reader<number> {
    const digits = Type.String({ pattern: '^-?[0-9]+$' });
    const schema = Type.Intersect([digits, Type.Integer({ minimum: min, maximum: max })]);
    return {
      variable,
      schema: withDefault(schema, fallback === undefined ? undefined : String(fallback)),
      rule: `must be a whole number from ${min} to ${max}`,
    };
  },

  oneOf<const T extends string>(variable: string, fallback: T | undefined, allowed: readonly T[]): Reader<T> {
    return { variable, schema: withDefault(Type.Enum([...allowed]), fallback), rule: `must be one of ${allowed.join(', ')}` };
  },

  bool(variable: string, fallback: boolean): Reader<boolean> {
    return {
      variable,
      schema: withDefault(Type.Boolean(), fallback),
      rule: 'must be true or false',
      spell: (raw) => BOOLEAN_SPELLINGS[raw.toLowerCase()] ?? raw.toLowerCase(),
    };
  },

  /** Comma-separated host:port list, as librdkafka's bootstrap.servers takes it. */
  brokers(variable: string, fallback: string): Reader<string> {
    return {
      variable,
      schema: withDefault(Type.String({ format: 'host-port-list' }), fallback),
      rule: 'must be host:port[,host:port…]',
      convert: (v) =>
        (v as string)
          .split(',')
          .map((p) => p.trim())
          .join(','),
    };
  },

  /** Like brokers, but empty (unset) is allowed: the app supplies the default from another setting. */
  brokersOrEmpty(variable: string): Reader<string> {
    const list = env.brokers(variable, '');
    return { ...list, schema: Type.Union([Type.Literal(''), Type.String({ format: 'host-port-list' })], { default: '' }) };
  },

  postgresUrl(variable: string, fallback: string): Reader<string> {
    return { variable, schema: withDefault(Type.String({ format: 'postgres-url' }), fallback), rule: 'must be a postgres:// URL' };
  },

  timezone(variable: string, fallback: string): Reader<string> {
    return {
      variable,
      schema: withDefault(Type.String({ format: 'iana-time-zone' }), fallback),
      rule: 'must be an IANA time zone name such as UTC or Europe/London',
    };
  },
};

/**
 * Defaults shared by every app; they equal what `npm run stack -- env` prints for the local stack. The
 * database URL names no user: each app connects as its own role (credentials.ts, databaseUrlAs).
 */
export const defaults = {
  kafkaBrokers: '127.0.0.1:19092',
  kafkaTopic: 'play-logs',
  kafkaKeysTopic: 'playlog-keys',
  databaseUrl: 'postgres://127.0.0.1:15432/playlog',
} as const;

/**
 * Settings more than one part reads, declared once (name, default, range): each part's spec takes the
 * reader from here, so ingest, the loader and the reporter can never disagree on a default or a bound.
 */
export const sharedSettings = {
  /**
   * How far ahead of the receiving clock a play may be dated (ingest refuses beyond it, the loader checks
   * again); a day closes this long after its end (the reporter, and the loader's coverage gauges).
   */
  clockSkewSeconds: env.int('CLOCK_SKEW_SECONDS', 300, 0, 3_600),
  /** The zone the reports' days are in (the reporter, and the loader's coverage gauges). */
  reportTimezone: env.timezone('REPORT_TIMEZONE', 'UTC'),
};

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];
