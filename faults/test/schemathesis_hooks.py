"""Schemathesis hooks for schemathesis.fault.test.ts (loaded through SCHEMATHESIS_HOOKS).

- The bulk route's OpenAPI document offers application/x-ndjson besides JSON; Schemathesis has no
  serializer for it, so NDJSON bodies (a string in the document) go on the wire as text.
- PlayInput names four formats of its own (libs/schema/src/rules.ts). Without strategies for them
  Schemathesis fills them with arbitrary strings, so nearly every play it means to be valid is refused
  and the routes' accepting path is barely reached; these generate values each format accepts.
"""

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import schemathesis
from hypothesis import strategies as st

schemathesis.serializer.alias("application/x-ndjson", "text/plain")

_countries_ts = Path(__file__).resolve().parents[2] / "libs/schema/src/countries.ts"
COUNTRIES = sorted(set(re.findall(r"\b[A-Z]{2}\b", _countries_ts.read_text().split("new Set(", 1)[1])))

# Within the 61-day window, with a margin on both sides: not in the future, not near the far edge.
_now = datetime.now(timezone.utc)
_instants = st.datetimes(
    min_value=(_now - timedelta(days=59)).replace(tzinfo=None),
    max_value=(_now - timedelta(minutes=5)).replace(tzinfo=None),
)

schemathesis.openapi.format("playlog-country", st.sampled_from(COUNTRIES) | st.sampled_from(COUNTRIES).map(str.lower))
schemathesis.openapi.format("playlog-uint31", st.integers(min_value=0, max_value=2**31 - 1).map(str))
schemathesis.openapi.format(
    "playlog-zoned-date-time",
    _instants.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"),
)
# No C0 control, DEL or surrogate (the rule), nor C1 controls (allowed, but not worth generating).
schemathesis.openapi.format(
    "playlog-text",
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=64),
)
