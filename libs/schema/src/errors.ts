/**
 * Stable codes for a play that cannot be accepted. Clients see the code and the message; both routes use
 * the same codes (the 1.2 routes map them onto 7digital's numeric codes, see `V12_CODES`).
 */
export const PlayErrorCode = {
  notAnObject: 'PLAYLOG_PLAY_NOT_OBJECT',
  invalidJson: 'PLAYLOG_PLAY_INVALID_JSON',
  missingField: 'PLAYLOG_FIELD_MISSING',
  invalidField: 'PLAYLOG_FIELD_INVALID',
  outOfWindow: 'PLAYLOG_DATE_OUT_OF_WINDOW',
} as const;
export type PlayErrorCode = (typeof PlayErrorCode)[keyof typeof PlayErrorCode];

export interface PlayError {
  code: PlayErrorCode;
  field?: string;
  message: string;
}

/** 7digital's numeric error codes, as its 1.2 API answers them. */
export const V12_CODES: Record<PlayErrorCode, number> = {
  PLAYLOG_PLAY_NOT_OBJECT: 1003,
  PLAYLOG_PLAY_INVALID_JSON: 1003,
  PLAYLOG_FIELD_MISSING: 1001,
  PLAYLOG_FIELD_INVALID: 1003,
  PLAYLOG_DATE_OUT_OF_WINDOW: 1002,
};
