"""Schemathesis hooks for schemathesis.fault.test.ts (loaded through SCHEMATHESIS_HOOKS).

The bulk route's OpenAPI document offers application/x-ndjson besides JSON; Schemathesis has no
serializer for it, so NDJSON bodies (a string in the document) go on the wire as text.
"""

import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "text/plain")
