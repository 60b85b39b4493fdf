"""Match-key exports, membership filters and matching on one's own premises."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from followmoney.core import schema
from followmoney.share import _clk
from followmoney.share._errors import ShareError
from followmoney.share._keys import RECIPE, PairKey
from followmoney.share._recipe import EXACT_KINDS, FUZZY_KIND, KINDS, own_subjects, person_features, subject_values

__all__ = ["TOKEN_BYTES", "REF_BYTES", "FILTER_FPR", "MatchExport", "export_keys", "read_export", "match",
           "MembershipFilter", "export_filter", "read_filter", "filter_hits", "hits_to_alerts", "token"]

#: Token length: HMAC-SHA256 truncated to 128 bits (reference design §2.6.2; truncation
#: to at least 64 bits is allowed by NIST SP 800-107r1 §5.3.3; 128 bits keeps accidental
#: collisions below 2^-64 for a billion tokens).
TOKEN_BYTES = 16
#: Subject reference: 128 random bits per subject and export, meaningful only to the exporter.
REF_BYTES = 16
#: Default false-positive rate of a membership filter: 1e-6, the reference's Ma3tch-style
#: variant (§2.6.2: about 28.8 bits per element, k = 20).
FILTER_FPR = 1e-6
_META = b"followmoney.share"
_EXPORT_FORMAT = "followmoney-match-keys"
_FILTER_FORMAT = "followmoney-membership-filter"
_EXPORT_SCHEMA = pa.schema([("ref", pa.binary(REF_BYTES)), ("kind", pa.string()), ("token", pa.binary())])
#: Confidence of a hit by the strongest kind that matched (a rank, not a probability):
#: identifiers unique to one subject first, then name + full birth date, then the weaker
#: composite; a CLK hit scores its Dice similarity scaled into [0.5, 0.8].
_LEVEL = {**{k: ("identifier", 0.95) for k in EXACT_KINDS},
          "name_dob": ("name_and_birth_date", 0.9), "surname_initial_dob": ("name_and_birth_date", 0.85),
          "entity_name_country_date": ("name_and_birth_date", 0.85),
          "name_year_nationality": ("name_year_nationality", 0.6)}


def token(key: PairKey, kind: str, value: str) -> bytes:
    """The match token of one normalised value: HMAC-SHA256(K_token, kind 0x1f value)[:16].

    Examples
    --------
    >>> from followmoney.share import new_key
    >>> k = new_key(["FIU-A", "FIU-B"], "2026-Q4")
    >>> len(token(k, "email", "a@b.example")), token(k, "email", "a@b.example") == token(k, "phone", "a@b.example")
    (16, False)
    """
    return hmac.new(key.subkey("token"), f"{kind}\x1f{value}".encode(), hashlib.sha256).digest()[:TOKEN_BYTES]


def _tokens(key: PairKey, values) -> list[tuple[str, bytes]]:
    k = key.subkey("token")
    return [(kind, hmac.new(k, f"{kind}\x1f{v}".encode(), hashlib.sha256).digest()[:TOKEN_BYTES]) for kind, v in values]


def _mac(key: PairKey, header: dict, table: pa.Table) -> str:
    h = hmac.new(key.subkey("file-mac"), json.dumps(header, sort_keys=True).encode(), hashlib.sha256)
    for col in ("ref", "kind", "token"):
        for v in table[col].to_pylist():
            b = v.encode() if isinstance(v, str) else v
            h.update(len(b).to_bytes(4, "big") + b)
    return h.hexdigest()


@dataclass
class MatchExport:
    """A match-key export: what a partner FIU receives (and the exporter's private ref map).

    Attributes
    ----------
    table : pyarrow.Table
        ``ref`` (16 random bytes per subject), ``kind`` (one of
        :data:`~followmoney.share.KINDS`), ``token`` (16 bytes; 256 for a ``clk``).
        Shuffled; one row per distinct (subject, kind, token).
    header : dict
        ``format``, ``recipe``, ``period``, ``key_id``, ``kinds`` (count per kind),
        ``subjects`` (how many), ``clk`` (CLK parameters, or null) and ``mac``.
    refs : pyarrow.Table or None
        Exporter only, never sent: ``ref`` (hex) -> ``subject_kind``, ``subject_id``.
    """

    table: pa.Table
    header: dict
    refs: pa.Table | None = None

    def write(self, path, refs_path=None) -> Path:
        """Write the export (Parquet, header in the schema metadata); ``refs`` to ``refs_path`` if given."""
        path = Path(path)
        t = self.table.replace_schema_metadata({_META: json.dumps(self.header, sort_keys=True).encode()})
        pq.write_table(t, path)
        if refs_path is not None and self.refs is not None:
            pq.write_table(self.refs, refs_path)
        return path


def export_keys(bundle, subjects, key: PairKey, *, clk: bool = False) -> MatchExport:
    """Match keys of the chosen subjects for one partner and period.

    Parameters
    ----------
    bundle : followmoney.Bundle
        Uses ``parties`` (``name, given_name, family_name, birth_date, nationality,
        country, kind``), ``accounts`` (``iban, account_number, institution``),
        ``party_accounts`` and ``identifiers``.
    subjects : iterable of str
        ``party_id`` or ``account_id`` values: a case, a list, or all alerted subjects.
    key : PairKey
        The key of this partner pair and period.
    clk : bool, default False
        Also export a balanced CLK per person with a full name and birth date, for fuzzy
        name matching (see :mod:`followmoney.share._clk` for its parameters). Opt-in: a
        CLK resists pattern-mining attacks less well than exact tokens (reference §2.3).

    Returns
    -------
    MatchExport

    Raises
    ------
    ShareError
        If a subject is neither a party nor an account of ``bundle``.
    """
    rows = []
    refs = []
    persons = person_features(bundle) if clk else {}
    clk_subjects = []
    for skind, sid, values in subject_values(bundle, subjects):
        ref = secrets.token_bytes(REF_BYTES)
        refs.append((ref.hex(), skind, sid))
        rows.extend((ref, kind, tok) for kind, tok in set(_tokens(key, values)))
        if clk:
            pids = [sid] if skind == "party" else sorted(_holders(bundle, sid))
            for pid in pids:
                if pid in persons:
                    clk_subjects.append((ref, persons[pid]))
    if clk_subjects:
        enc = _clk.encode([r for _, r in clk_subjects], key.subkey("clk"))
        seen = set()
        for (ref, _), c in zip(clk_subjects, enc):
            if (ref, c.tobytes()) not in seen:
                seen.add((ref, c.tobytes()))
                rows.append((ref, FUZZY_KIND, c.tobytes()))
    random.SystemRandom().shuffle(rows)
    table = pa.table({"ref": pa.array([r[0] for r in rows], pa.binary(REF_BYTES)),
                      "kind": pa.array([r[1] for r in rows], pa.string()),
                      "token": pa.array([r[2] for r in rows], pa.binary())}, schema=_EXPORT_SCHEMA)
    counts: dict[str, int] = {}
    for k in table["kind"].to_pylist():
        counts[k] = counts.get(k, 0) + 1
    header = {"format": _EXPORT_FORMAT, "recipe": RECIPE, "period": key.period, "key_id": key.key_id,
              "kinds": dict(sorted(counts.items())), "subjects": len({r[0] for r in rows}),
              "clk": ({"bits": 2 * _clk.CLK_BITS, "name_hashes": _clk.NAME_HASHES, "dob_hashes": _clk.DOB_HASHES,
                       "hardening": "balance"} if clk else None)}
    header["mac"] = _mac(key, header, table)
    ref_table = pa.table({"ref": [r[0] for r in refs], "subject_kind": [r[1] for r in refs],
                          "subject_id": [r[2] for r in refs]})
    return MatchExport(table, header, ref_table)


def _holders(bundle, account_id: str) -> set:
    pa_ = bundle.party_accounts
    return {p for p, a in zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist()) if a == account_id}


def _read_parquet(path: Path, what: str):
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise ShareError(f"{path}: no such file") from None
    except (OSError, pa.ArrowException):
        raise ShareError(f"{path}: not a followmoney {what} (not readable as Parquet; truncated or altered?)") from None


def _header(path: Path, table: pa.Table, fmt: str, what: str) -> dict:
    meta = (table.schema.metadata or {}).get(_META)
    try:
        header = json.loads(meta) if meta else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != fmt:
        raise ShareError(f"{path}: not a followmoney {what}")
    if header.get("recipe") != RECIPE:
        raise ShareError(f"{path}: made with recipe {header.get('recipe')!r}; this version reads {RECIPE}")
    return header


def _check_key(path: Path, header: dict, key: PairKey) -> None:
    if header.get("period") != key.period:
        raise ShareError(f"{path}: made for period {header.get('period')!r}, but the key is for period {key.period!r}")
    if header.get("key_id") != key.key_id:
        raise ShareError(f"{path}: made with key id {header.get('key_id')}, but the key given has id {key.key_id} "
                         "(wrong key or wrong partner)")


def read_export(path, key: PairKey) -> MatchExport:
    """Read and verify a partner's match-key export.

    Parameters
    ----------
    path : str or Path
    key : PairKey
        The key shared with that partner for the export's period.

    Returns
    -------
    MatchExport
        Without ``refs`` (the partner keeps those).

    Raises
    ------
    ShareError
        One line naming the file: not an export; a key kind ``fm-match-v1`` forbids (a
        single name or date field); another period; another key; content altered
        (MAC mismatch).
    """
    path = Path(path)
    t = _read_parquet(path, "match-key export")
    header = _header(path, t, _EXPORT_FORMAT, "match-key export")
    if t.schema.remove_metadata() != _EXPORT_SCHEMA:
        raise ShareError(f"{path}: columns are not ref, kind, token")
    bad = sorted(set(t["kind"].to_pylist()) - set(KINDS))
    if bad:
        raise ShareError(f"{path}: holds key kind(s) {', '.join(map(repr, bad))}, which {RECIPE} forbids "
                         "(single-field name or date keys can be re-identified by frequency analysis); refused")
    _check_key(path, header, key)
    body = {k: v for k, v in header.items() if k != "mac"}
    if not hmac.compare_digest(str(header.get("mac")), _mac(key, body, t.replace_schema_metadata(None))):
        raise ShareError(f"{path}: integrity check failed (MAC mismatch): the file was altered after export")
    return MatchExport(t.replace_schema_metadata(None), header)


_HITS_SCHEMA = pa.schema([
    ("subject_kind", pa.string()), ("subject_id", pa.string()), ("partner_ref", pa.string()),
    ("matched_kinds", pa.list_(pa.string())), ("confidence", pa.string()), ("score", pa.float64()),
    ("dice", pa.float64()), ("period", pa.string()), ("key_id", pa.string()),
])


def match(export: MatchExport, bundle, key: PairKey, *, subjects=None, clk_threshold: float = _clk.DICE_THRESHOLD) -> pa.Table:
    """Which of one's own subjects are in a partner's export, on which key kinds.

    Tokens of one's own subjects are computed with the same recipe and key and joined
    with the export, locally. Nothing about the partner's subjects is learned beyond the
    hit itself: the partner's ``ref``, quoted in the follow-up request (FIU.net or ESW).

    Parameters
    ----------
    export : MatchExport
        From :func:`read_export`.
    bundle : followmoney.Bundle
        One's own data (columns as for :func:`export_keys`).
    key : PairKey
    subjects : iterable of str, optional
        One's own subjects to match; default every party and every account no party holds.
    clk_threshold : float, default :data:`followmoney.share._clk.DICE_THRESHOLD`
        Dice similarity for a CLK hit (only when the export holds CLKs).

    Returns
    -------
    pyarrow.Table
        One row per (own subject, partner ref): ``subject_kind``, ``subject_id``,
        ``partner_ref`` (hex), ``matched_kinds`` (sorted), ``confidence``
        (``identifier`` | ``name_and_birth_date`` | ``name_year_nationality`` |
        ``fuzzy_name``), ``score`` (rank in [0, 1], see ``_LEVEL``), ``dice`` (CLK
        similarity, null for exact hits), ``period``, ``key_id``. Sorted by score.
    """
    subjects = own_subjects(bundle) if subjects is None else list(subjects)
    by_token: dict[bytes, list[bytes]] = {}
    t = export.table
    for ref, kind, tok in zip(t["ref"].to_pylist(), t["kind"].to_pylist(), t["token"].to_pylist()):
        if kind != FUZZY_KIND:
            by_token.setdefault(tok, []).append(ref)
    found: dict[tuple, dict] = {}
    vals = subject_values(bundle, subjects)
    for skind, sid, values in vals:
        for kind, tok in _tokens(key, values):
            for ref in by_token.get(tok, ()):
                found.setdefault((skind, sid, ref), {"kinds": set(), "dice": None})["kinds"].add(kind)
    if FUZZY_KIND in set(t["kind"].to_pylist()):
        persons = person_features(bundle)
        mine = [(sk, sid) for sk, sid, _ in vals if sk == "party" and sid in persons]
        theirs = [(r, tok) for r, k, tok in zip(t["ref"].to_pylist(), t["kind"].to_pylist(), t["token"].to_pylist())
                  if k == FUZZY_KIND]
        if mine and theirs:
            left = _clk.encode([persons[sid] for _, sid in mine], key.subkey("clk"))
            right = np.frombuffer(b"".join(tok for _, tok in theirs), dtype=np.uint8).reshape(len(theirs), -1)
            if right.shape[1] != left.shape[1]:
                raise ShareError("the export's CLKs have another length than this version makes")
            for i, j, d in _clk.dice_pairs(left, right, clk_threshold):
                e = found.setdefault((*mine[i], theirs[j][0]), {"kinds": set(), "dice": None})
                e["kinds"].add(FUZZY_KIND)
                e["dice"] = d
    rows = []
    for (skind, sid, ref), e in found.items():
        exact = [_LEVEL[k] for k in e["kinds"] if k in _LEVEL]
        if exact:
            level, score = max(exact, key=lambda x: x[1])
            score = min(0.99, score + 0.01 * (len(e["kinds"]) - 1))
        else:
            level, score = "fuzzy_name", round(0.5 + 0.3 * (e["dice"] - clk_threshold) / (1 - clk_threshold), 4)
        rows.append({"subject_kind": skind, "subject_id": sid, "partner_ref": ref.hex(),
                     "matched_kinds": sorted(e["kinds"]), "confidence": level, "score": score, "dice": e["dice"],
                     "period": export.header["period"], "key_id": export.header["key_id"]})
    out = pa.Table.from_pylist(rows, schema=_HITS_SCHEMA)
    return out.sort_by([("score", "descending"), ("subject_id", "ascending"), ("partner_ref", "ascending")])


# --------------------------------------------------------------------------- membership filter
@dataclass
class MembershipFilter:
    """A Ma3tch-style Bloom filter of tokens: membership only, no refs, no kinds per row.

    Attributes
    ----------
    bits : numpy.ndarray
        Packed ``uint8`` bit array of ``m`` bits.
    header : dict
        ``format``, ``recipe``, ``period``, ``key_id``, ``n`` (tokens inserted), ``m``,
        ``k``, ``fpr`` (nominal), ``kinds`` (count per kind) and ``mac``.
    """

    bits: np.ndarray
    header: dict

    def _positions(self, tok: bytes) -> list[int]:
        m, k = self.header["m"], self.header["k"]
        h1, h2 = int.from_bytes(tok[:8], "big"), int.from_bytes(tok[8:16], "big") | 1
        return [(h1 + i * h2) % m for i in range(k)]

    def __contains__(self, tok: bytes) -> bool:
        b = self.bits
        return all(b[p >> 3] >> (7 - (p & 7)) & 1 for p in self._positions(tok))

    def write(self, path) -> Path:
        """Write as Parquet: one row, column ``bits``, header in the metadata."""
        t = pa.table({"bits": pa.array([self.bits.tobytes()], pa.binary())})
        pq.write_table(t.replace_schema_metadata({_META: json.dumps(self.header, sort_keys=True).encode()}), path)
        return Path(path)


def export_filter(bundle, subjects, key: PairKey, *, fpr: float = FILTER_FPR) -> MembershipFilter:
    """A membership filter of the subjects' exact and composite tokens (no CLKs).

    Size ``m = ceil(-n ln(fpr) / (ln 2)^2)`` bits and ``k = round(m / n * ln 2)`` hash
    positions (the optimal Bloom filter; Broder & Mitzenmacher 2004), positions by double
    hashing of the token (Kirsch & Mitzenmacher 2006). ``fpr`` 1e-6 gives 28.8 bits per
    token and k = 20, as in the reference's Ma3tch-style variant (§2.6.2).

    Raises
    ------
    ShareError
        If ``fpr`` is not in (0, 0.5) or a subject is unknown.
    """
    if not 0 < fpr < 0.5:
        raise ShareError(f"fpr must be in (0, 0.5), got {fpr!r}")
    toks = {}
    for _, _, values in subject_values(bundle, subjects):
        for kind, tok in _tokens(key, values):
            toks[tok] = kind
    n = max(1, len(toks))
    m = max(64, math.ceil(-n * math.log(fpr) / math.log(2) ** 2))
    m = (m + 7) // 8 * 8
    k = max(1, round(m / n * math.log(2)))
    counts: dict[str, int] = {}
    for kind in toks.values():
        counts[kind] = counts.get(kind, 0) + 1
    header = {"format": _FILTER_FORMAT, "recipe": RECIPE, "period": key.period, "key_id": key.key_id,
              "n": len(toks), "m": m, "k": k, "fpr": fpr, "kinds": dict(sorted(counts.items()))}
    f = MembershipFilter(np.zeros(m // 8, np.uint8), header)
    for tok in toks:
        for p in f._positions(tok):
            f.bits[p >> 3] |= np.uint8(1 << (7 - (p & 7)))
    f.header["mac"] = hmac.new(key.subkey("file-mac"), json.dumps(header, sort_keys=True).encode() + f.bits.tobytes(),
                               hashlib.sha256).hexdigest()
    return f


def read_filter(path, key: PairKey) -> MembershipFilter:
    """Read and verify a partner's membership filter.

    Parameters
    ----------
    path : str or Path
    key : PairKey

    Returns
    -------
    MembershipFilter

    Raises
    ------
    ShareError
        As :func:`read_export`: not a filter, another period or key, altered bits.
    """
    path = Path(path)
    t = _read_parquet(path, "membership filter")
    header = _header(path, t, _FILTER_FORMAT, "membership filter")
    _check_key(path, header, key)
    try:
        bits = np.frombuffer(t["bits"][0].as_py(), dtype=np.uint8).copy()
    except (KeyError, IndexError, TypeError):
        raise ShareError(f"{path}: membership filter has no bits") from None
    body = {k: v for k, v in header.items() if k != "mac"}
    mac = hmac.new(key.subkey("file-mac"), json.dumps(body, sort_keys=True).encode() + bits.tobytes(), hashlib.sha256)
    if not hmac.compare_digest(str(header.get("mac")), mac.hexdigest()):
        raise ShareError(f"{path}: integrity check failed (MAC mismatch): the file was altered after export")
    return MembershipFilter(bits, header)


def filter_hits(filt: MembershipFilter, bundle, key: PairKey, *, subjects=None) -> pa.Table:
    """Own subjects with at least one token in a partner's membership filter.

    Parameters
    ----------
    filt : MembershipFilter
    bundle : followmoney.Bundle
        One's own data (columns as for :func:`export_keys`).
    key : PairKey
    subjects : iterable of str, optional
        Default: every party and every account no party holds.

    Returns
    -------
    pyarrow.Table
        ``subject_kind``, ``subject_id``, ``matched_kinds`` (kinds whose token is in the
        filter; each may be a false positive with probability ``fpr``).
    """
    subjects = own_subjects(bundle) if subjects is None else list(subjects)
    rows = []
    for skind, sid, values in subject_values(bundle, subjects):
        kinds = sorted({kind for kind, tok in _tokens(key, values) if tok in filt})
        if kinds:
            rows.append({"subject_kind": skind, "subject_id": sid, "matched_kinds": kinds})
    return pa.Table.from_pylist(rows, schema=pa.schema([("subject_kind", pa.string()), ("subject_id", pa.string()),
                                                        ("matched_kinds", pa.list_(pa.string()))]))


# --------------------------------------------------------------------------- hits as alerts
def hits_to_alerts(hits: pa.Table, partner: str, *, export_name: str | None = None) -> pa.Table:
    """Hits as canonical alerts (rule ``XB-01``) that say where they came from.

    Parameters
    ----------
    hits : pyarrow.Table
        From :func:`match`.
    partner : str
        The FIU whose export matched (e.g. ``FIU-B``).
    export_name : str, optional
        File name of the export, quoted in the explanation.

    Returns
    -------
    pyarrow.Table
        Schema ``alerts``: ``rule_id`` XB-01, ``typology`` ``cross_border_match``,
        ``severity`` by confidence, no evidence transactions; ``explanation`` names the
        partner, file, period, key kinds and the partner ref to quote in the request.
    """
    rows = []
    for h in hits.to_pylist():
        sev = "high" if h["confidence"] == "identifier" else "medium" if h["confidence"] != "name_year_nationality" else "low"
        how = ", ".join(h["matched_kinds"]) + (f" (CLK Dice {h['dice']:.2f})" if h["dice"] is not None else "")
        src = f" in {export_name}" if export_name else ""
        run = hashlib.sha256(f"{partner}|{h['key_id']}|{h['period']}".encode()).hexdigest()[:16]
        rows.append({
            "alert_id": "A" + hashlib.sha256(f"XB-01|{h['subject_id']}|{h['partner_ref']}|{run}".encode()).hexdigest()[:16],
            "rule_id": "XB-01", "rule_name": "Subject known to a partner FIU", "typology": "cross_border_match",
            "subject_kind": h["subject_kind"], "subject_id": h["subject_id"], "score": h["score"], "severity": sev,
            "evidence_count": 0, "evidence_txn_ids": [], "evidence_source_refs": [],
            "explanation": (f"Matched a subject of partner FIU {partner}{src} (period {h['period']}, key id {h['key_id']}) "
                            f"on {how}; confidence {h['confidence'].replace('_', ' ')}. Confirm with a request to "
                            f"{partner} over FIU.net/ESW quoting ref {h['partner_ref']} and the key kinds, never a name."),
            "params": json.dumps({"partner": partner, "partner_ref": h["partner_ref"], "matched_kinds": h["matched_kinds"],
                                  "period": h["period"], "key_id": h["key_id"]}, sort_keys=True),
            "run_id": run,
        })
    return schema.conform(pa.Table.from_pylist(rows) if rows else schema.empty("alerts"), "alerts")
