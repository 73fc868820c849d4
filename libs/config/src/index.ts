export { ConfigError, defaults, env, loadConfig, logLevels } from './env.js';
/** @public No code names it, but the apps' exported config specs are made of it, so their declarations do. */
export type { Reader } from './env.js';
export { createLogger, loggerOptions } from './logger.js';
export { onShutdown } from './shutdown.js';
export { commandLine, usageError } from './cli.js';
