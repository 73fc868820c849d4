/**
 * Configuration from the environment, validated once at boot.
 *
 * Each app declares a spec: one reader per setting, naming the variable, its default and its rule.
 * `loadConfig` reads them all and throws one ConfigError that names every bad variable, so a
 * misconfigured pod fails fast with a message an operator can act on.
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
  read(raw: string | undefined): T;
}

type Spec<T> = { [K in keyof T]: Reader<T[K]> };

export function loadConfig<T>(spec: Spec<T>, source: NodeJS.ProcessEnv = process.env): T {
  const out: Partial<T> = {};
  const problems: string[] = [];
  for (const key of Object.keys(spec) as (keyof T)[]) {
    const reader = spec[key];
    const raw = source[reader.variable];
    try {
      out[key] = reader.read(raw === '' ? undefined : raw);
    } catch (err) {
      const got = raw === undefined ? 'unset' : `got ${JSON.stringify(raw.length > 80 ? raw.slice(0, 80) + '…' : raw)}`;
      problems.push(`${reader.variable}: ${(err as Error).message} (${got})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as T;
}

function reader<T>(variable: string, fallback: T | undefined, parse: (raw: string) => T): Reader<T> {
  return {
    variable,
    read(raw) {
      if (raw === undefined) {
        if (fallback === undefined) throw new Error('is required');
        return fallback;
      }
      return parse(raw.trim());
    },
  };
}

export const env = {
  string(variable: string, fallback?: string): Reader<string> {
    return reader(variable, fallback, (raw) => raw);
  },

  int(variable: string, fallback: number | undefined, min: number, max: number): Reader<number> {
    return reader(variable, fallback, (raw) => {
      if (!/^-?\d+$/.test(raw)) throw new Error(`must be a whole number from ${min} to ${max}`);
      const n = Number(raw);
      if (n < min || n > max) throw new Error(`must be a whole number from ${min} to ${max}`);
      return n;
    });
  },

  oneOf<const T extends string>(variable: string, fallback: T | undefined, allowed: readonly T[]): Reader<T> {
    return reader(variable, fallback, (raw) => {
      if (!(allowed as readonly string[]).includes(raw)) throw new Error(`must be one of ${allowed.join(', ')}`);
      return raw as T;
    });
  },

  bool(variable: string, fallback: boolean): Reader<boolean> {
    return reader(variable, fallback, (raw) => {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new Error('must be true or false');
    });
  },

  /** Comma-separated host:port list, as librdkafka's bootstrap.servers takes it. */
  brokers(variable: string, fallback: string): Reader<string> {
    return reader(variable, fallback, (raw) => {
      const parts = raw.split(',').map((s) => s.trim());
      if (parts.some((p) => !/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(p))) throw new Error('must be host:port[,host:port…]');
      return parts.join(',');
    });
  },

  /** Like brokers, but empty (unset) is allowed: the app supplies the default from another setting. */
  brokersOrEmpty(variable: string): Reader<string> {
    const list = env.brokers(variable, '');
    return { variable, read: (raw) => (raw === undefined ? '' : list.read(raw)) };
  },

  postgresUrl(variable: string, fallback: string): Reader<string> {
    return reader(variable, fallback, (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error('must be a postgres:// URL');
      }
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('must be a postgres:// URL');
      return raw;
    });
  },

  timezone(variable: string, fallback: string): Reader<string> {
    return reader(variable, fallback, (raw) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: raw });
      } catch {
        throw new Error('must be an IANA time zone name such as UTC or Europe/London');
      }
      return raw;
    });
  },
};

/** Defaults shared by every app; they equal what `npm run stack -- env` prints for the local stack. */
export const defaults = {
  kafkaBrokers: '127.0.0.1:19092',
  kafkaTopic: 'play-logs',
  kafkaKeysTopic: 'playlog-keys',
  databaseUrl: 'postgres://playlog:playlog@127.0.0.1:15432/playlog',
} as const;

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];
