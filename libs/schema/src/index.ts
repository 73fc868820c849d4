export { daysIn, digits, instantKey, parseDateTime } from './datetime.js';
export { addDays, dayClosesAt, dayRange, isDay, reportableDay, startOfDay, today } from './days.js';
export { PlayErrorCode, V12_CODES } from './errors.js';
export { playIdentity } from './identity.js';
export { PlayInput } from './rules.js';
export { fromV12Item, normalizePlay, playHead, readPlay, type PlayContext, type PlayFields } from './normalize.js';
export { LIMITS, Play, type LogType } from './play.js';
export {
  DecodeError,
  decodePlays,
  encodeBatches,
  encodePlay,
  encodePlays,
  type DecodeFailure,
  type DecodeRules,
  type PlayBatch,
} from './codec.js';
export { gateMarker, gateMarkerValid, gateSecret, type GateMarker } from './gate.js';
export { CLIENT_NAME, unsafeText } from './text.js';
export { API_KEY_FORMAT, apiKeyHash, apiKeyPrefix, generateApiKey } from './api-key.js';
export { feedSigningKey, feedVerifyingKeys, readFeedRecord, snapshotMessage, type FeedRejection, type KeySnapshot } from './key-feed.js';
/** @internal Exported for tests only. */
export { completePlay } from './normalize.js';
/** @internal Exported for tests only. */
export { decodePlay } from './codec.js';
/** @internal Exported for tests only. */
export type { FeedKey } from './key-feed.js';
