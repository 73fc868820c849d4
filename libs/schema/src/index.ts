export { ISO_COUNTRIES } from './countries.js';
export { DAY_MS, instantIsoUtc, instantKey, instantMillis, parseDateTime, type Instant } from './datetime.js';
export { PlayErrorCode, V12_CODES, type PlayError } from './errors.js';
export { playIdentity, type IdentityParts } from './identity.js';
export { BulkBody, BulkPlay, BulkRejected, BulkResult, FastifyError, V12Body, V12Error, V12Item, V12Ok, V12Query } from './input.js';
export { fromV12Item, normalizePlay, type Normalized, type PlayContext } from './normalize.js';
export { END_REASONS, LIMITS, LOG_TYPES, PLAY_MODES, Play, type LogType } from './play.js';
export { decodePlay, decodePlays, encodePlay, encodePlays, type DecodedPlays, type RefusedPlay } from './codec.js';
export { CLIENT_NAME, SAFE_TEXT_PATTERN, unsafeText } from './text.js';
