export { dateTimeMillis, daysIn, digits, instantIsoUtc, instantKey, instantMillis, parseDateTime } from './datetime.js';
export { PlayErrorCode, V12_CODES } from './errors.js';
export { playIdentity } from './identity.js';
export { PlayInput } from './rules.js';
export { completePlay, fromV12Item, normalizePlay, playHead, readPlay, type PlayContext, type PlayFields } from './normalize.js';
export { LIMITS, Play, type LogType } from './play.js';
export {
  DecodeError,
  decodePlay,
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
export {
  feedSigningKey,
  feedVerifyingKeys,
  readFeedRecord,
  snapshotMessage,
  type FeedKey,
  type FeedRejection,
  type KeySnapshot,
} from './key-feed.js';
