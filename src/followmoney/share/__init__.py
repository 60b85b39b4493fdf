"""FIU-to-FIU cooperation: privacy-preserving subject matching and disclosure packages.

(Full documentation below is completed in this module's docstring.)
"""

from followmoney.share._errors import ShareError
from followmoney.share._keys import KEY_BYTES, RECIPE, PairKey, new_key, read_key, write_key
from followmoney.share._recipe import COMPOSITE_KINDS, EXACT_KINDS, FUZZY_KIND, KINDS, allowed_kind
from followmoney.share._export import (
    FILTER_FPR,
    REF_BYTES,
    TOKEN_BYTES,
    MatchExport,
    MembershipFilter,
    export_filter,
    export_keys,
    filter_hits,
    hits_to_alerts,
    match,
    read_export,
    read_filter,
    token,
)

__all__ = [
    "COMPOSITE_KINDS", "EXACT_KINDS", "FILTER_FPR", "FUZZY_KIND", "KEY_BYTES", "KINDS", "RECIPE", "REF_BYTES",
    "TOKEN_BYTES", "MatchExport", "MembershipFilter", "PairKey", "ShareError", "allowed_kind", "export_filter",
    "export_keys", "filter_hits", "hits_to_alerts", "match", "new_key", "read_export", "read_filter", "read_key",
    "token", "write_key",
]
