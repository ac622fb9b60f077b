"""Schemathesis hooks for the contract run (loaded through SCHEMATHESIS_HOOKS by schemathesis.test.ts).

Exclusion 3. Paging cursors (`cursor` of the lists, `after` of the events page) are opaque tokens
the API hands out and checks on the way back in: a made-up one is a documented 400 whatever its
shape, so no schema can describe a valid one. Positive cases that carry a made-up cursor are
dropped (negative ones stay: they expect the 400). The API's own tests page with real cursors.
"""

import schemathesis

OPAQUE_CURSORS = ("cursor", "after")


def _is_negative(case):
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    return str(getattr(mode, "value", mode)) == "negative"


@schemathesis.hook
def filter_case(ctx, case):
    query = case.query or {}
    return _is_negative(case) or not any(name in query for name in OPAQUE_CURSORS)
