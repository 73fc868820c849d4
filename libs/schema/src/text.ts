/**
 * What a free-text field may hold (userId, playId, userAgent, an API key's name). DOMAIN.md allows any
 * characters in them, but not control characters: Postgres text cannot store NUL (a play holding one
 * was acknowledged, then refused by the database and lost to the dead-letter topic), and none of the
 * C0 controls or DEL belong in an id or a device name. Unpaired surrogates are refused too: they cannot
 * be written as UTF-8, so the stored value would silently differ from the one sent.
 */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** The same rule as a JSON Schema pattern, for the schemas that check plays read back from Kafka. */
export const SAFE_TEXT_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';

/** Why `s` may not be stored as text, or undefined when it may. */
export function unsafeText(s: string): string | undefined {
  if (CONTROL_CHARACTERS.test(s)) return 'must not contain control characters (U+0000 to U+001F, U+007F)';
  if (!s.isWellFormed()) return 'must be valid Unicode (it holds an unpaired surrogate)';
  return undefined;
}

/**
 * A client's name: it names the client's folder of reports, so it is a safe path segment. Checked when
 * a key is created, when ingest writes a play and when the loader reads one back.
 */
export const CLIENT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
