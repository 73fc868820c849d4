export { ConfigError, defaults, env, loadConfig, logLevels, type LogLevel, type Reader } from './env.js';
export { createLogger, loggerOptions, redactPaths, redactUrl } from './logger.js';
export { onShutdown } from './shutdown.js';
export { commandLine, usageError, type CliOption, type CliValues } from './cli.js';
