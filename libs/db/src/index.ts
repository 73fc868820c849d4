export { createPool, escapeIdentifier, escapeLiteral, type Pool, type PoolClient, type Queryable, type Session } from './connection.js';
export { keysRepository, readKeySnapshot } from './keys.js';
export { migrateLatest } from './migrate.js';
export { dropPartitionsBefore, ensurePartitions } from './partitions.js';
export { PLAY_COLUMNS, playCsvLine, playsWriter, type PlaysWriter } from './plays.js';
export { gateMarks, type GateMark, type GateMarks } from './gate.js';
export { dailyUsageLeaf } from './daily-usage.js';
export { copyOut } from './copy-out.js';
/** @internal Exported for tests only. */
export { partitionDaysPresent } from './partitions.js';
