export { ISO_COUNTRIES } from './countries.js';
export { DAY_MS, dateTimeMillis, instantIsoUtc, instantKey, instantMillis, parseDateTime, type Instant } from './datetime.js';
export { PlayErrorCode, V12_CODES, type PlayError } from './errors.js';
export { playIdentity, type IdentityParts } from './identity.js';
export { BulkBody, BulkPlay, BulkRejected, BulkResult, FastifyError, V12Body, V12Error, V12Item, V12Ok, V12Query } from './input.js';
export {
  completePlay,
  fromV12Item,
  normalizePlay,
  playHead,
  playIdOf,
  readPlay,
  type Normalized,
  type PlayContext,
  type PlayFields,
  type PlayHead,
  type ReadResult,
} from './normalize.js';
export { END_REASONS, LIMITS, LOG_TYPES, PLAY_MODES, Play, type LogType } from './play.js';
export {
  decodePlay,
  decodePlays,
  encodeBatches,
  encodePlay,
  encodePlays,
  gateMarker,
  type DecodedPlays,
  type PlayBatch,
  type RefusedPlay,
} from './codec.js';
export { CLIENT_NAME, SAFE_TEXT_PATTERN, unsafeText } from './text.js';
export { API_KEY_FORMAT, apiKeyHash, apiKeyPrefix, generateApiKey } from './api-key.js';
export { decodeFeedRecord, keyFeedMessages, type FeedKey, type FeedMessage, type FeedRecord } from './key-feed.js';
