export { ConfigError, defaults, env, loadAll, loadConfig, logLevels, sharedSettings } from './env.js';
export { databaseUrlAs, kafkaClientConfig, secretFile, type KafkaClient, type Principal } from './credentials.js';
/** @public No code names it, but the apps' exported config specs are made of it, so their declarations do. */
export type { Reader } from './env.js';
export { createLogger, loggerOptions } from './logger.js';
export { onShutdown } from './shutdown.js';
export { commandLine, usageError } from './cli.js';
/** @internal Exported for tests only. */
export { credentialsDir } from './credentials.js';
