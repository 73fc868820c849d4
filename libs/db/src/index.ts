export { createDb, pingDb, type DbOptions, type Knex } from './connection.js';
export { hashKey, keysRepository, readKeyFeed, type ApiKeyRow, type KeysRepository } from './keys.js';
export { migrateLatest, migrateRollbackAll } from './migrate.js';
export { dropPartitionsBefore, ensurePartitions, partitionDaysPresent } from './partitions.js';
export { createPool, partitionDays, PLAY_COLUMNS, playCsvLine, playsWriter, type PlaysWriter, type PoolOptions } from './plays.js';
export { gateMarks, type GateMark, type GateMarks } from './gate.js';
export { dailyUsageLeaf } from './daily-usage.js';
