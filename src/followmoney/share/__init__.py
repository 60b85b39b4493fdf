"""FIU-to-FIU cooperation: find subjects in common without handing over data; carry a case across a border.

Trafficking proceeds cross borders, and no FIU can follow them alone. Egmont Secure Web
(ESW) carries free-text requests; FIU.net's Ma3tch matches subjects, but only in the EU
and with an unpublished construction. This package is an open, testable version of that
flow (design: ``shared/reference/fiu-cooperation.md`` §2.6):

1. **Keys.** Two FIUs agree one 256-bit key per partner pair and period
   (:func:`new_key`, :func:`write_key`), out of band over FIU.net or ESW. The key never
   travels with an export; exports name it only by ``key_id``, a MAC of the key.
2. **Match keys.** :func:`export_keys` turns the subjects an FIU chooses (a case, a list,
   all alerted subjects) into keyed tokens, HMAC-SHA256 truncated to 128 bits, of values
   normalised by :mod:`followmoney.normalize` (recipe ``fm-match-v1``,
   :data:`KINDS`): IBAN, bank + account number, ID document, company registration, E.164
   phone, e-mail, each alone; names only inside composites (name + birth date, surname
   + initial + birth date, name + birth year + nationality; entity name + country +
   incorporation date). Optional: a balanced record-level Bloom filter (CLK) per person
   for fuzzy name matching (``clk=True``), or instead a Ma3tch-style membership filter
   (:func:`export_filter`). The file (Parquet) states the kinds it holds with their
   counts, the number of subjects, the period, the recipe, ``key_id``, the CLK
   parameters and a MAC, and nothing else. Each subject is a random 128-bit ``ref``
   that only the exporter can resolve (the private ref map).
3. **Matching on one's own premises.** :func:`match` computes the same tokens for one's
   own subjects with the same key and joins them with the partner's export: a hit names
   one's own subject, the partner's ``ref``, the kinds that matched and a confidence.
   :func:`hits_to_alerts` turns hits into alerts (rule ``XB-01``) that say where they
   came from. The follow-up is an ordinary FIU.net / ESW request quoting the ``ref`` and
   the kinds, never a name; the exporter resolves the ref (``followmoney share lookup``).
4. **Disclosure package.** :func:`disclosure_package` writes a case for a partner
   (spontaneous disclosure, request or reply): subjects, accounts, identifiers,
   transactions, alerts with explanations, the money trail (a forward trace of every
   case account), evidence packs, and a manifest with the SHA-256 of every file and of
   the sender's inputs, the purpose and handling caveats; the sender picks the
   redaction level (:data:`REDACTION_LEVELS`). ``fm.read`` reads a package as a source
   (adapter ``fm_package``; every hash is checked), so resolution, consolidation and
   tracing continue across the border: the partner's accounts join one's own where the
   account ids agree (``IBAN/<IBAN>`` or ``<bank>/<number>``), and
   :func:`trail_origins` / :func:`combined_evidence_pack` show which part of a trail
   came from which FIU.

What the exports are, honestly
------------------------------
* **Pseudonymised personal data, not anonymous** (EDPB Guidelines 01/2025 on
  pseudonymisation; ENISA, *Pseudonymisation techniques and best practices*, 2019).
  Whoever holds the key can test whether a person they can name is in the file: that
  is the purpose of matching. Send an export only to the partner of its key, only for
  its period, over FIU.net or ESW, and delete it when the exchange is done.
* **An attacker with the file but without the key** learns the number of subjects, the
  kinds and counts, the period and which tokens belong to one subject (the refs). He
  cannot test a guess (a dictionary of names, birth dates, phone numbers): every token
  is a MAC under a 256-bit key (tests: a full dictionary recovers 0 %, while the same
  dictionary reverses an unkeyed SHA-256 design 100 %). Token frequencies tell him
  nothing useful: single-field name and date tokens are never exported (:func:`read_export`
  refuses them), composites are nearly unique.
* **The partner holding the key** can test named persons (by design, as in Ma3tch), and
  sees how many identifiers each matched subject has. With CLKs, pattern-mining and
  graph-matching attacks on Bloom filters reduce but do not vanish with balancing
  (reference §2.3): CLKs are opt-in.
* **Key handling.** One key per partner pair and period; the key file is written with
  mode 0600 and never overwritten; keep it in an OS keyring or HSM where you can; a new
  period means a new key, so exports of different periods are unlinkable. Key material
  never appears in an export, a log or an error message; tokens and CLKs use sub-keys
  derived per purpose (domain separation).
* **Disclosure packages are not pseudonymised**: they carry names, accounts and
  transactions at the chosen redaction level, under the Egmont Principles for
  Information Exchange and the caveats in the manifest.

Parameters and their sources
----------------------------
* key: :data:`KEY_BYTES` = 32 (256 bits; RFC 2104 §3, NIST SP 800-107r1 §5.3.4, reference §2.6.3);
* tokens: HMAC-SHA256 truncated to :data:`TOKEN_BYTES` = 16 (reference §2.6.2);
* refs: :data:`REF_BYTES` = 16 random bytes per subject and export (reference §2.6.2);
* membership filter: false-positive rate :data:`FILTER_FPR` = 1e-6, ``m = -n ln p / (ln 2)^2``
  bits (28.8 per token), ``k = m/n ln 2`` = 20 (reference §2.6.2; Broder & Mitzenmacher 2004);
* CLK: 1024 bits balanced to 2048, 15 hashes per name bigram, 30 per birth-date feature,
  Dice threshold 0.94 (:mod:`followmoney.share._clk` states each source).

Examples
--------
>>> import followmoney as fm
>>> from followmoney import share
>>> b = fm.read(fm.sample_data_path() / "goaml")
>>> key = share.new_key(["FIU-A", "FIU-B"], "2026-Q4")
>>> exp = share.export_keys(b, ["DEXB/1001002001"], key)
>>> sorted(exp.header)
['clk', 'format', 'key_id', 'kinds', 'mac', 'period', 'recipe', 'subjects']
>>> exp.header["subjects"], exp.header["period"], "name_dob" in exp.header["kinds"]
(1, '2026-Q4', True)
>>> hits = share.match(exp, b, key, subjects=["DEXB/1001002001"])
>>> hits["subject_id"][0].as_py(), hits["confidence"][0].as_py(), "account" in hits["matched_kinds"][0].as_py()
('DEXB/1001002001', 'identifier', True)
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
from followmoney.share._package import (
    DEFAULT_CAVEATS,
    PACKAGE_KINDS,
    PACKAGE_SUFFIX,
    REDACTION_LEVELS,
    PackageContents,
    combined_evidence_pack,
    disclosure_package,
    open_package,
    package_bundle,
    trail_html,
    trail_origins,
)
from followmoney.share._simulate import two_fius

__all__ = [
    "COMPOSITE_KINDS", "EXACT_KINDS", "FILTER_FPR", "FUZZY_KIND", "KEY_BYTES", "KINDS", "RECIPE", "REF_BYTES",
    "TOKEN_BYTES", "MatchExport", "MembershipFilter", "PairKey", "ShareError", "allowed_kind", "export_filter",
    "export_keys", "filter_hits", "hits_to_alerts", "match", "new_key", "read_export", "read_filter", "read_key",
    "token", "write_key", "DEFAULT_CAVEATS", "PACKAGE_KINDS", "PACKAGE_SUFFIX", "REDACTION_LEVELS", "PackageContents",
    "combined_evidence_pack", "disclosure_package", "open_package", "package_bundle", "trail_html", "trail_origins",
    "two_fius",
]
