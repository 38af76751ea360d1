"""Which display names the suite takes: one rule for the auth service and for the gateway's
OpenAPI document (and its 422), so that what the document calls valid is what auth accepts.

Refused anywhere in a name: control (Cc), format (Cf: bidi overrides, zero-width characters)
and private-use (Co) characters, as of Unicode 14; and a name must not be blank.
Unassigned code points pass: a client's Unicode can be newer than this Python's (an emoji added
after Unicode 14 is "unassigned" here), and a fixed list keeps the document the same everywhere.
"""

from __future__ import annotations

import re

# A regex character class. BMP characters as \u escapes; the ones beyond it as the characters
# themselves (JSON Schema regexes have no portable escape for them). Surrogates need no entry:
# a JSON text carrying a lone one is refused as invalid JSON before any of this runs.
_REFUSED_BMP = (
    r"\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ue000-\uf8ff\ufeff"
    r"\ufff9-\ufffb"
)
_REFUSED = _REFUSED_BMP + (
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)
# No refused character within the Basic Multilingual Plane, and at least one that is not
# whitespace, for documents (OpenAPI): characters beyond the plane break JavaScript regexes
# without the `u` flag and many validators; `acceptable` checks them all.
BMP_PATTERN = rf"^[^{_REFUSED_BMP}]*[^{_REFUSED_BMP}\s][^{_REFUSED_BMP}]*$"
FORMAT = "display-name"  # the JSON Schema format naming the whole rule, beyond the BMP too
RULE = ("Not blank; no control (Cc), format (Cf) or private-use (Co) characters (Unicode 14). "
        "The pattern states the rule within the Basic Multilingual Plane; format "
        "`display-name` is the whole rule: the characters beyond the plane it refuses get "
        "the same 422.")
# Surrogates too, for callers that reach auth over RPC without JSON parsing in between.
_REFUSED_CHARACTER = re.compile(f"[{_REFUSED}\\ud800-\\udfff]")


def acceptable(name: str) -> bool:
    """True for a name (already stripped by the caller) that is not blank and has no refused
    character."""
    return bool(name) and _REFUSED_CHARACTER.search(name) is None
