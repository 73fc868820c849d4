import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from './env.js';

/**
 * Paths that may carry an API key. A key must never reach a log line: Authorization headers, the
 * 7digital-style `oauth_consumer_key` query parameter, and
 * the key itself when a CLI handles one.
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.query.oauth_consumer_key',
  'headers.authorization',
  'apiKey',
  'key',
];

export function loggerOptions(name: string, level: LogLevel): LoggerOptions {
  const opts: LoggerOptions = {
    name,
    level,
    redact: { paths: redactPaths, censor: '[REDACTED]' },
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // Human-readable output only for a person at a terminal; JSON lines everywhere else.
  if (process.stdout.isTTY && process.env.PLAYLOG_LOG_PRETTY !== '0') {
    opts.transport = { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } };
  }
  return opts;
}

export function createLogger(name: string, level: LogLevel): Logger {
  return pino(loggerOptions(name, level));
}
