"""Entity resolution: which party mentions, across reports, are the same person or entity.

A canonical ``parties`` row is one *mention* of a person or an entity in one report.
:func:`resolve` groups mentions into clusters in two stages and says why for every
link, so an analyst can defend each merge and a prosecutor can follow it:

1. **Deterministic** links on strong identifiers: the same ID document number of the
   same type (passport, national ID, tax ID, registration number) or the same held
   account. A strong link between mentions whose names disagree is not merged but
   listed for review (a controller holding a victim's documents looks exactly like
   that).
2. **Fuzzy** name comparison (token-order-insensitive, see
   :func:`followmoney.normalize.compare_names`) *gated by corroborating evidence*:
   birth date, e-mail, phone, a shared counterparty, address, nationality, country of
   residence, each worth a number of points (:class:`ResolverSettings`).

Must-not-link rules hold in both stages and for whole clusters, not only pairs:
persons never merge with entities; two different birth dates never merge; two
different numbers of an *exclusive* identifier (one per person, e.g. a national ID
of the same scheme) never merge. A shared address or a shared surname is never
enough: the fuzzy stage needs a full-name match (two tokens or more for persons)
*and* corroboration. Fuzzy links do not chain: a strong cluster joins a group only if
its names match every strong cluster already in the group (complete linkage on
names).

Candidate pairs come from **blocking**, never from all pairs: identical normalised
strong identifiers (stage 1); sorted transliterated name tokens, sorted Metaphone
codes, and one name token together with the same birth date, phone or e-mail
(stage 2). Blocks larger than ``max_block_size`` are skipped and counted.

Results are two tables, ``party_clusters`` and ``match_reasons``, each carrying the
settings used in its schema metadata (``followmoney.resolver_settings``), and a
third, :func:`shared_identifiers`, lists the phones, e-mails, addresses and documents
used by otherwise distinct clusters.

Examples
--------
>>> import followmoney as fm
>>> res = resolve(fm.read(fm.sample_data_path() / "goaml"))
>>> res.stats["mentions"], res.stats["clusters"]
(33, 8)
>>> sorted(set(res.match_reasons.column("rule").to_pylist()))
['same_account_held', 'same_id_document', 'same_national_id']
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

import pyarrow as pa
import pyarrow.compute as pc

from followmoney import normalize as nz
from followmoney.core.bundle import Bundle
from followmoney.core.ids import stable_id
from followmoney.core.schema import _f
from followmoney.core.settings import Settings, setting

__all__ = [
    "ResolverSettings",
    "Resolution",
    "resolve",
    "shared_identifiers",
    "splink_input",
    "PARTY_CLUSTERS_SCHEMA",
    "MATCH_REASONS_SCHEMA",
    "SHARED_IDENTIFIERS_SCHEMA",
    "SETTINGS_METADATA_KEY",
]

#: Schema-metadata key under which the resolver settings (JSON) travel with results.
SETTINGS_METADATA_KEY = b"followmoney.resolver_settings"


#: One row per party mention.
PARTY_CLUSTERS_SCHEMA = pa.schema(
    [
        _f("party_id", pa.string(), "parties.party_id (one mention).", False),
        _f("cluster_id", pa.string(), "Stable id of the resolved person/entity: hash of its smallest party_id.", False),
        _f("cluster_size", pa.int64(), "Number of mentions in the cluster.", False),
        _f("kind", pa.string(), "person | entity.", False),
        _f("stage", pa.string(), "How the cluster was formed: single | deterministic | fuzzy | deterministic+fuzzy.", False),
    ]
)

#: One row per examined link: merged, blocked by a must-not-link rule, or left for review.
MATCH_REASONS_SCHEMA = pa.schema(
    [
        _f("left_party", pa.string(), "party_id of one side (the smaller id).", False),
        _f("right_party", pa.string(), "party_id of the other side.", False),
        _f("cluster_id", pa.string(), "Cluster both sides ended in, when merged."),
        _f("stage", pa.string(), "deterministic | fuzzy.", False),
        _f("rule", pa.string(), "Rule that fired, e.g. same_passport, name_corroborated, must_not_link_birth_date.", False),
        _f("decision", pa.string(), "merge | blocked | review.", False),
        _f("score", pa.float64(), "Name similarity 0..1 (1.0 for identifier links).", False),
        _f("points", pa.float64(), "Corroboration points (fuzzy stage).", False),
        _f("evidence", pa.string(), "JSON: the values compared (personal data: it is data).", False),
        _f("explanation", pa.string(), "Plain words an analyst can read.", False),
    ]
)

#: One row per identifier value used by two or more clusters.
SHARED_IDENTIFIERS_SCHEMA = pa.schema(
    [
        _f("shared_id", pa.string(), "Stable id: hash of kind and key.", False),
        _f("kind", pa.string(), "identifiers.kind (phone, email, address, passport, ...).", False),
        _f("key", pa.string(), "Normalised value (followmoney.normalize).", False),
        _f("n_clusters", pa.int64(), "Distinct clusters using it (account owners count as their holders).", False),
        _f("n_persons", pa.int64(), "How many of those clusters are persons.", False),
        _f("n_entities", pa.int64(), "How many are entities.", False),
        _f("n_accounts", pa.int64(), "Accounts carrying it directly.", False),
        _f("cluster_ids", pa.list_(pa.string()), "The clusters, sorted.", False),
        _f("party_ids", pa.list_(pa.string()), "The party mentions carrying it, sorted.", False),
        _f("account_ids", pa.list_(pa.string()), "The accounts carrying it, sorted.", False),
        _f("raw_values", pa.list_(pa.string()), "Distinct values as written.", False),
        _f("source_refs", pa.list_(pa.string()), "Where each use was read.", False),
        _f("related_by_account", pa.bool_(), "All clusters hold a role on one common account (e.g. a company and its director).", False),
    ]
)


# --------------------------------------------------------------------------- settings
@dataclass
class ResolverSettings(Settings):
    """Settings of :func:`resolve`: a plain, serialisable model of the resolver.

    A :class:`~followmoney.core.settings.Settings`: round-trips through :meth:`to_dict`
    / :meth:`from_dict` and :meth:`to_toml` / :meth:`from_toml`, and is stored with every
    result (schema metadata), so a run can be repeated and two runs compared. An unknown
    key, or a value out of its range, is a :class:`~followmoney.exceptions.ConfigError`
    (a :class:`ValueError`) naming the setting.

    Parameters
    ----------
    strong_kinds : tuple of str
        ``identifiers.kind`` values whose equal (normalised, non-placeholder) numbers
        link two mentions deterministically.
    link_held_accounts : bool
        Mentions holding the same account (``party_accounts`` roles in
        ``account_roles``) are linked deterministically when their names agree (joint
        accounts have several holders).
    account_roles : tuple of str
    exclusive_kinds : tuple of str
        Identifier kinds a person or entity has one number of, per scheme
        (``EID:...``): two different numbers block a merge.
    exclusive_schemes : tuple of str
        Schemes of ``id_document`` values that are one per subject, like national ids:
        ``INC`` is a company's registration (incorporation) number, so two companies
        with the same trade name and different registration numbers are never merged
        (case BR-31).
    strong_name_min : float
        Strong links between mentions whose names score below this are not merged but
        listed for review. Mentions without a name are linked.
    name_threshold : float
        Least name similarity for a fuzzy link (0..1).
    min_name_tokens : int
        Least tokens of a person's name for a fuzzy link (a surname alone never links).
    corroboration : dict of str to float
        Points per kind of shared evidence: ``birth_date``, ``email``, ``phone``,
        ``counterparty`` (both transacted with the same cluster or account),
        ``address``, ``nationality``, ``country``.
    min_corroboration : float
        Least points for a fuzzy link. Name matches with fewer points are listed for
        review.
    max_block_size : int
        Blocking keys shared by more clusters than this are skipped (counted in
        ``Resolution.stats["blocks_skipped"]``).
    max_identifier_group : int
        Strong identifier values carried by more mentions than this are treated as
        junk (e.g. a bank's own number on every customer) and not linked on.
    max_group_comparisons : int
        Largest complete-linkage check (pairs of strong clusters) before a fuzzy join
        is refused.

    Examples
    --------
    >>> s = ResolverSettings(name_threshold=0.9)
    >>> ResolverSettings.from_toml(s.to_toml()) == s
    True
    >>> ResolverSettings(name_threshold=1.5)
    Traceback (most recent call last):
    ...
    followmoney.exceptions.ConfigError: ResolverSettings.name_threshold must be a number in [0.0, 1.0], got 1.5
    """

    strong_kinds: tuple[str, ...] = setting(("passport", "national_id", "tax_id", "id_document"))
    link_held_accounts: bool = setting(True)
    account_roles: tuple[str, ...] = setting(("holder",))
    exclusive_kinds: tuple[str, ...] = setting(("national_id", "tax_id"))
    exclusive_schemes: tuple[str, ...] = setting(("INC",))
    strong_name_min: float = setting(0.5, ge=0.0, le=1.0)
    name_threshold: float = setting(0.85, ge=0.0, le=1.0)
    min_name_tokens: int = setting(2, ge=1)
    corroboration: dict[str, float] = setting(
        default_factory=lambda: {
            "birth_date": 1.0,
            "email": 1.0,
            "phone": 1.0,
            "counterparty": 0.5,
            "address": 0.5,
            "nationality": 0.25,
            "country": 0.25,
        },
        keys=("birth_date", "email", "phone", "counterparty", "address", "nationality", "country"),
    )
    min_corroboration: float = setting(1.0)
    max_block_size: int = setting(50, ge=1)
    max_identifier_group: int = setting(500, ge=1)
    max_group_comparisons: int = setting(10_000, ge=1)

    _EVIDENCE = ("birth_date", "email", "phone", "counterparty", "address", "nationality", "country")

    def to_json(self) -> str:
        """Compact JSON of :meth:`to_dict`, sorted keys (stored in result metadata)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


@dataclass
class Resolution:
    """Result of :func:`resolve`.

    Attributes
    ----------
    party_clusters : pyarrow.Table
        :data:`PARTY_CLUSTERS_SCHEMA`: ``party_id, cluster_id, cluster_size, kind,
        stage``, one row per mention, sorted by ``cluster_id, party_id``.
    match_reasons : pyarrow.Table
        :data:`MATCH_REASONS_SCHEMA`: ``left_party, right_party, cluster_id, stage,
        rule, decision, score, points, evidence, explanation``.
    settings : ResolverSettings
    stats : dict of str to int
        ``mentions``, ``clusters``, ``deterministic_links``, ``fuzzy_links``,
        ``candidate_pairs``, ``blocked``, ``review``, ``blocks_skipped``,
        ``junk_identifiers``, ``placeholder_identifiers``.
    """

    party_clusters: pa.Table
    match_reasons: pa.Table
    settings: ResolverSettings
    stats: dict

    def cluster_map(self) -> dict[str, str]:
        """``party_id -> cluster_id``."""
        return dict(zip(self.party_clusters["party_id"].to_pylist(), self.party_clusters["cluster_id"].to_pylist()))

    def _counts(self) -> tuple[int, int, int, int]:
        st = self.stats or {}
        merged = sum(1 for n in self.party_clusters["cluster_size"].to_pylist() if n > 1) if self.party_clusters.num_rows else 0
        decisions = self.match_reasons["decision"].to_pylist() if self.match_reasons.num_rows else []
        return int(st.get("mentions", self.party_clusters.num_rows)), int(st.get("clusters", 0)), merged, decisions.count("merge")

    def __repr__(self) -> str:
        """One line: mentions, persons/entities, how many were merged and by how many reasons."""
        n, c, merged, reasons = self._counts()
        return (f"<Resolution: {n} mentions -> {c} persons/entities ({merged} seen in more than one mention; "
                f"{reasons} merge reasons, {int((self.stats or {}).get('review', 0))} for review)>")  # fmt: skip

    def _repr_html_(self) -> str:
        """Jupyter: the summary and the first merges with their explanation (no raw Arrow dump)."""
        import html

        n, c, merged, reasons = self._counts()
        rows = self.match_reasons.filter(pc.equal(self.match_reasons["decision"], "merge")).slice(0, 10).to_pylist() if reasons else []
        body = "".join(
            f"<tr><td>{html.escape(str(r['rule']))}</td><td>{r['score']:.2f}</td><td>{html.escape(str(r['explanation']))}</td></tr>"
            for r in rows
        )
        table = f"<table><tr><th>rule</th><th>score</th><th>why merged</th></tr>{body}</table>" if rows else ""
        return (f"<p><b>Resolution</b>: {n} mentions &rarr; {c} persons/entities; {merged} seen in more than one "
                f"mention; {reasons} merge reasons (first {len(rows)} below; all in <code>match_reasons</code>).</p>{table}")  # fmt: skip


# --------------------------------------------------------------------------- internals
class _Mentions:
    """Party mentions in party_id order with the attributes the resolver compares."""

    def __init__(self, bundle: Bundle, settings: ResolverSettings, counterparties: pa.Table | None = None):
        p = bundle.parties
        if p.num_rows:
            p = p.sort_by([("party_id", "ascending"), ("source_ref", "ascending")])
        ids = p["party_id"].to_pylist()
        seen: dict[str, int] = {}
        keep = []
        for i, pid in enumerate(ids):
            if pid not in seen:
                seen[pid] = len(keep)
                keep.append(i)
        if len(keep) != len(ids):
            p = p.take(pa.array(keep, pa.int64()))
        self.ids: list[str] = p["party_id"].to_pylist()
        self.index = {pid: i for i, pid in enumerate(self.ids)}
        self.kind: list[str] = p["kind"].to_pylist()
        names = p["name"].to_pylist()
        given, family = p["given_name"].to_pylist(), p["family_name"].to_pylist()
        self.name: list[str | None] = [
            n or (" ".join(x for x in (g, f) if x) or None) for n, g, f in zip(names, given, family)
        ]
        self.dob: list[str | None] = [d.isoformat() if d else None for d in p["birth_date"].to_pylist()]
        self.nationality = [nz.normalize_country(c) for c in p["nationality"].to_pylist()]
        self.country = [nz.normalize_country(c) for c in p["country"].to_pylist()]
        n = len(self.ids)
        self.attrs: list[dict[str, set]] = [defaultdict(set) for _ in range(n)]
        self.strong: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.placeholders = 0
        self._identifiers(bundle, settings)
        self._accounts(bundle, settings)
        self.counterparty_mentions: list[set[int]] = [set() for _ in range(n)]
        self.counterparty_accounts: list[set[str]] = [set() for _ in range(n)]
        if settings.corroboration.get("counterparty", 0) > 0:
            self._counterparties(bundle.transactions if counterparties is None else counterparties)

    def _identifiers(self, bundle: Bundle, settings: ResolverSettings) -> None:
        ids = nz.bundle_identifier_keys(bundle)
        ids = ids.filter(pc.equal(ids["owner_kind"], "party"))
        if not ids.num_rows:
            return
        owners = ids["owner_id"].to_pylist()
        strong = set(settings.strong_kinds)
        for owner, kind, key, ph in zip(owners, ids["kind"].to_pylist(), ids["key"].to_pylist(), ids["placeholder"].to_pylist()):
            i = self.index.get(owner)
            if i is None or key is None:
                continue
            if ph:
                self.placeholders += 1
                continue
            self.attrs[i][kind].add(key)
            if kind in strong:
                self.strong[(kind, key)].append(i)

    def _accounts(self, bundle: Bundle, settings: ResolverSettings) -> None:
        pa_ = bundle.party_accounts
        self.held: dict[str, list[int]] = defaultdict(list)
        self.roles: list[set[str]] = [set() for _ in self.ids]
        roles_held = set(settings.account_roles)
        for pid, aid, role in zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist(), pa_["role"].to_pylist()):
            i = self.index.get(pid)
            if i is None:
                continue
            self.roles[i].add(aid)
            if role in roles_held:
                self.held[aid].append(i)

    def _counterparties(self, tx: pa.Table) -> None:
        if not tx.num_rows or not self.ids:
            return
        known = pa.array(self.ids, pa.string())
        mentioned = pc.or_(pc.fill_null(pc.is_in(tx["from_party"], value_set=known), False),
                           pc.fill_null(pc.is_in(tx["to_party"], value_set=known), False))  # fmt: skip
        tx = tx.select(["from_party", "to_party", "from_account", "to_account"]).filter(mentioned)  # only rows naming a mention count
        cols = [tx[c].to_pylist() for c in ("from_party", "to_party", "from_account", "to_account")]
        idx = self.index
        for fp, tp, fa, ta in zip(*cols):
            fi, ti = idx.get(fp) if fp else None, idx.get(tp) if tp else None
            if fi is not None:
                if ti is not None:
                    self.counterparty_mentions[fi].add(ti)
                if ta:
                    self.counterparty_accounts[fi].add(ta)
            if ti is not None:
                if fi is not None:
                    self.counterparty_mentions[ti].add(fi)
                if fa:
                    self.counterparty_accounts[ti].add(fa)


class _Clusters:
    """Union-find over mention indices that keeps must-not-link state per root."""

    def __init__(self, m: _Mentions, settings: ResolverSettings):
        n = len(m.ids)
        self.parent = list(range(n))
        self.members: list[list[int]] = [[i] for i in range(n)]
        self.kind = list(m.kind)
        self.dobs: list[set[str]] = [({d} if d else set()) for d in m.dob]
        self.excl: list[dict[tuple[str, str], set[str]]] = []
        for i in range(n):
            d: dict[tuple[str, str], set[str]] = {}
            for k in settings.exclusive_kinds:
                for v in m.attrs[i].get(k, ()):
                    scheme = v.rpartition(":")[0]
                    d.setdefault((k, scheme), set()).add(v)
            for v in m.attrs[i].get("id_document", ()):
                scheme = v.rpartition(":")[0]
                if scheme in settings.exclusive_schemes:
                    d.setdefault(("id_document", scheme), set()).add(v)
            self.excl.append(d)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def conflict(self, a: int, b: int) -> tuple[str, dict] | None:
        """Must-not-link rule between the clusters of roots ``a`` and ``b``, if any."""
        if self.kind[a] != self.kind[b]:
            return "must_not_link_kind", {"left": self.kind[a], "right": self.kind[b]}
        da, db = self.dobs[a], self.dobs[b]
        if da and db and not (da & db):
            return "must_not_link_birth_date", {"left": sorted(da), "right": sorted(db)}
        for key, va in self.excl[a].items():
            vb = self.excl[b].get(key)
            if vb and not (va & vb):
                return f"must_not_link_{key[0]}", {"left": sorted(va), "right": sorted(vb)}
        return None

    def union(self, a: int, b: int) -> int:
        """Merge roots ``a`` and ``b``; the smaller index stays root."""
        if a > b:
            a, b = b, a
        self.parent[b] = a
        self.members[a].extend(self.members[b])
        self.members[b] = []
        self.dobs[a] |= self.dobs[b]
        for key, vs in self.excl[b].items():
            self.excl[a].setdefault(key, set()).update(vs)
        return a


_RULE_TEXT = {
    "same_passport": "same passport number in both mentions",
    "same_national_id": "same national ID number in both mentions",
    "same_tax_id": "same tax ID in both mentions",
    "same_id_document": "same ID document / registration number in both mentions",
    "same_account_held": "both mentions hold the same account and their names agree",
    "names_differ_on_strong_identifier": "same strong identifier but the names disagree: left for an analyst",
    "name_corroborated": "names match and enough other evidence agrees",
    "name_uncorroborated": "names match but too little other evidence agrees: left for an analyst",
    "no_chaining": "names match this mention but not every mention already in the other cluster",
    "group_too_large": "clusters too large to check every pair of names",
    "must_not_link_kind": "a person and an entity never merge",
    "must_not_link_birth_date": "different birth dates never merge",
}


def _explain(rule: str) -> str:
    if rule in _RULE_TEXT:
        return _RULE_TEXT[rule]
    if rule.startswith("must_not_link_"):
        return f"different {rule.removeprefix('must_not_link_').replace('_', ' ')} numbers of one scheme never merge"
    if rule.startswith("same_"):
        return f"same {rule.removeprefix('same_').replace('_', ' ')} in both mentions"
    return rule


class _Resolver:
    def __init__(self, bundle: Bundle, settings: ResolverSettings, counterparties: pa.Table | None = None):
        self.s = settings
        self.m = _Mentions(bundle, settings, counterparties)
        self.c = _Clusters(self.m, settings)
        self.reasons: list[dict] = []
        self.reported: set[tuple[str, str]] = set()
        self.stats = defaultdict(int)
        self.stats["placeholder_identifiers"] = self.m.placeholders

    def reason(self, a: int, b: int, stage: str, rule: str, decision: str, score: float, points: float, evidence: dict) -> None:
        ids = self.m.ids
        left, right = (ids[a], ids[b]) if ids[a] < ids[b] else (ids[b], ids[a])
        self.reported.add((left, right))
        self.reasons.append(
            {
                "left_party": left,
                "right_party": right,
                "stage": stage,
                "rule": rule,
                "decision": decision,
                "score": float(score),
                "points": float(points),
                "evidence": json.dumps(evidence, sort_keys=True, ensure_ascii=False, default=str),
                "explanation": _explain(rule),
                "_a": a,
            }
        )

    def name_score(self, a: int, b: int) -> nz.NameMatch:
        kind = "person" if self.m.kind[a] == "person" else "entity"
        return nz.compare_names(self.m.name[a], self.m.name[b], kind)

    # ----------------------------------------------------------- stage 1
    def deterministic(self) -> None:
        groups: list[tuple[str, str, list[int]]] = [(k, v, ms) for (k, v), ms in self.m.strong.items()]
        if self.s.link_held_accounts:
            groups += [("account", aid, ms) for aid, ms in self.m.held.items()]
        groups.sort(key=lambda g: (g[0], g[1]))
        for kind, key, members in groups:
            members = sorted(set(members))
            if len(members) < 2:
                continue
            if len(members) > self.s.max_identifier_group:
                self.stats["junk_identifiers"] += 1
                continue
            rule = "same_account_held" if kind == "account" else f"same_{kind}"
            need_names = kind == "account"
            anchors: list[int] = []  # one per name-compatible subgroup
            for i in members:
                home = None
                for a in anchors:
                    nm = self.name_score(a, i)
                    ok = nm.score >= (self.s.name_threshold if need_names else self.s.strong_name_min)
                    if ok or (not need_names and nm.level == "missing"):
                        home = a
                        break
                if home is None:
                    if anchors and self.m.kind[anchors[0]] == self.m.kind[i]:
                        nm = self.name_score(anchors[0], i)
                        self.reason(anchors[0], i, "deterministic", "names_differ_on_strong_identifier", "review",
                                    nm.score, 0.0, {"identifier": kind, "key": key, "names": [self.m.name[anchors[0]], self.m.name[i]]})
                        self.stats["review"] += 1
                    anchors.append(i)
                    continue
                self.link(home, i, "deterministic", rule, 1.0, 0.0, {"identifier": kind, "key": key})

    def link(self, a: int, b: int, stage: str, rule: str, score: float, points: float, evidence: dict) -> bool:
        ra, rb = self.c.find(a), self.c.find(b)
        if ra == rb:
            self.reason(a, b, stage, rule, "merge", score, points, evidence)
            return True
        clash = self.c.conflict(ra, rb)
        if clash:
            blocked_rule, ev = clash
            self.reason(a, b, stage, blocked_rule, "blocked", score, points, {**evidence, "conflict": ev, "proposed_by": rule})
            self.stats["blocked"] += 1
            return False
        self.c.union(ra, rb)
        self.reason(a, b, stage, rule, "merge", score, points, evidence)
        self.stats[f"{stage}_links"] += 1
        return True

    # ----------------------------------------------------------- stage 2
    def profiles(self) -> None:
        """Per strong cluster (atom): names and evidence sets."""
        m = self.m
        self.atoms = sorted({self.c.find(i) for i in range(len(m.ids))})
        self.atom_of = [self.c.find(i) for i in range(len(m.ids))]
        self.prof: dict[int, dict] = {}
        for a in self.atoms:
            mem = self.c.members[a]
            kind = "person" if m.kind[a] == "person" else "entity"
            names: dict[str, str] = {}
            for i in sorted(mem):
                nm = m.name[i]
                norm = nz.normalize_name(nm, kind) if nm else None
                if norm and norm not in names and len(names) < 10:
                    names[norm] = nm
            ev: dict[str, set] = defaultdict(set)
            for i in mem:
                if m.dob[i]:
                    ev["birth_date"].add(m.dob[i])
                if m.nationality[i]:
                    ev["nationality"].add(m.nationality[i])
                if m.country[i]:
                    ev["country"].add(m.country[i])
                for k in ("phone", "email", "address"):
                    ev[k] |= m.attrs[i].get(k, set())
                ev["counterparty"] |= m.counterparty_accounts[i]
            self.prof[a] = {"kind": kind, "names": names, "ev": ev}
        for a in self.atoms:  # counterparties as atoms, now that atoms are known
            cp = self.prof[a]["ev"]["counterparty"]
            for i in self.c.members[a]:
                cp.update(f"cluster:{m.ids[self.atom_of[j]]}" for j in m.counterparty_mentions[i])

    def blocks(self) -> set[tuple[int, int]]:
        keys: dict[tuple, list[int]] = defaultdict(list)
        for a in self.atoms:
            p = self.prof[a]
            ev = p["ev"]
            akeys = set()
            for norm in p["names"]:
                toks = norm.split()
                if p["kind"] == "person" and len(toks) < self.s.min_name_tokens:
                    continue
                sk = nz.sorted_name_key(norm, "person")
                if not sk:
                    continue
                akeys.add(("n", p["kind"], sk))
                ph = nz.phonetic_key(norm, "person")
                if ph:
                    akeys.add(("p", p["kind"], ph))
                for tok in sk.split():
                    if len(tok) < 2:
                        continue
                    for k in ("birth_date", "phone", "email"):
                        for v in ev.get(k, ()):
                            akeys.add(("t", tok, k, v))
            for k in akeys:
                keys[k].append(a)
        pairs: set[tuple[int, int]] = set()
        for k, atoms in keys.items():
            if len(atoms) < 2:
                continue
            if len(atoms) > self.s.max_block_size:
                self.stats["blocks_skipped"] += 1
                continue
            for x, y in combinations(sorted(atoms), 2):
                if self.prof[x]["kind"] == self.prof[y]["kind"]:
                    pairs.add((x, y))
        self.stats["candidate_pairs"] = len(pairs)
        return pairs

    def compare(self, x: int, y: int) -> tuple[nz.NameMatch, tuple[str, str] | None]:
        """Best name match between two atoms (and the names that gave it)."""
        px, py = self.prof[x], self.prof[y]
        best, pair = nz.NameMatch(0.0, "missing"), None
        for nx_, rx in px["names"].items():
            for ny_, ry in py["names"].items():
                if px["kind"] == "person" and min(len(nx_.split()), len(ny_.split())) < self.s.min_name_tokens:
                    continue
                nm = nz.compare_names(rx, ry, px["kind"])
                if nm.score > best.score:
                    best, pair = nm, (rx, ry)
        return best, pair

    def corroborate(self, x: int, y: int) -> tuple[float, dict]:
        ex, ey = self.prof[x]["ev"], self.prof[y]["ev"]
        points, shared = 0.0, {}
        for k, w in self.s.corroboration.items():
            common = ex.get(k, set()) & ey.get(k, set())
            if common and w > 0:
                points += w
                shared[k] = sorted(common)[:5]
        return round(points, 6), shared

    def fuzzy(self) -> None:
        self.profiles()
        merges = []
        for x, y in sorted(self.blocks()):
            nm, names = self.compare(x, y)
            if nm.score < self.s.name_threshold:
                continue
            points, shared = self.corroborate(x, y)
            evidence = {"names": list(names), "name_level": nm.level, "shared": shared}
            clash = self.c.conflict(self.c.find(x), self.c.find(y))
            if clash:
                if (self.m.ids[x], self.m.ids[y]) not in self.reported:  # stage 1 already said why
                    self.reason(x, y, "fuzzy", clash[0], "blocked", nm.score, points, {**evidence, "conflict": clash[1]})
                    self.stats["blocked"] += 1
                continue
            if points < self.s.min_corroboration:
                self.reason(x, y, "fuzzy", "name_uncorroborated", "review", nm.score, points, evidence)
                self.stats["review"] += 1
                continue
            merges.append((-points, -nm.score, x, y, nm, evidence))
        merges.sort(key=lambda t: t[:4])
        for neg_points, _, x, y, nm, evidence in merges:
            rx, ry = self.c.find(x), self.c.find(y)
            if rx != ry:
                atoms_x = sorted({self.atom_of[i] for i in self.c.members[rx]})
                atoms_y = sorted({self.atom_of[i] for i in self.c.members[ry]})
                if len(atoms_x) * len(atoms_y) > self.s.max_group_comparisons:
                    self.reason(x, y, "fuzzy", "group_too_large", "review", nm.score, -neg_points, evidence)
                    self.stats["review"] += 1
                    continue
                failed = None
                for ax in atoms_x:
                    for ay in atoms_y:
                        if (ax, ay) != (x, y) and self.compare(min(ax, ay), max(ax, ay))[0].score < self.s.name_threshold:
                            failed = (ax, ay)
                            break
                    if failed:
                        break
                if failed:
                    ev = {**evidence, "unmatched": [self.m.ids[failed[0]], self.m.ids[failed[1]]]}
                    self.reason(x, y, "fuzzy", "no_chaining", "review", nm.score, -neg_points, ev)
                    self.stats["review"] += 1
                    continue
            self.link(x, y, "fuzzy", "name_corroborated", nm.score, -neg_points, evidence)

    # ----------------------------------------------------------- output
    def result(self) -> Resolution:
        m, c = self.m, self.c
        n = len(m.ids)
        roots = [c.find(i) for i in range(n)]
        cid = {r: stable_id("C", m.ids[r]) for r in set(roots)}  # root = smallest index = smallest party_id
        size = {r: len(c.members[r]) for r in set(roots)}
        atom_of = getattr(self, "atom_of", roots)
        atom_size: dict[int, int] = defaultdict(int)
        atoms_in: dict[int, set[int]] = defaultdict(set)
        for i in range(n):
            atom_size[atom_of[i]] += 1
            atoms_in[roots[i]].add(atom_of[i])
        stage = {}
        for r, atoms in atoms_in.items():
            det = any(atom_size[a] > 1 for a in atoms)
            if len(atoms) > 1:
                stage[r] = "deterministic+fuzzy" if det else "fuzzy"
            else:
                stage[r] = "deterministic" if det else "single"
        meta = {SETTINGS_METADATA_KEY: self.s.to_json().encode()}
        pc_rows = {
            "party_id": m.ids,
            "cluster_id": [cid[r] for r in roots],
            "cluster_size": [size[r] for r in roots],
            "kind": ["person" if k == "person" else "entity" for k in m.kind],
            "stage": [stage[r] for r in roots],
        }
        clusters = pa.table(pc_rows, schema=PARTY_CLUSTERS_SCHEMA.with_metadata(meta))
        if clusters.num_rows:
            clusters = clusters.sort_by([("cluster_id", "ascending"), ("party_id", "ascending")])
        rows = []
        for r in self.reasons:
            a = r.pop("_a")
            r["cluster_id"] = cid[roots[a]] if r["decision"] == "merge" else None
            rows.append(r)
        reasons = pa.Table.from_pylist(rows, schema=MATCH_REASONS_SCHEMA.with_metadata(meta))
        if reasons.num_rows:
            reasons = reasons.sort_by([("left_party", "ascending"), ("right_party", "ascending"), ("stage", "ascending"), ("rule", "ascending")])
        stats = {"mentions": n, "clusters": len(set(roots))}
        for k in ("deterministic_links", "fuzzy_links", "candidate_pairs", "blocked", "review", "blocks_skipped",
                  "junk_identifiers", "placeholder_identifiers"):
            stats[k] = int(self.stats.get(k, 0))
        return Resolution(clusters, reasons, self.s, stats)


# --------------------------------------------------------------------------- public
def resolve(bundle: Bundle, settings: ResolverSettings | None = None, *, counterparties: pa.Table | None = None) -> Resolution:
    """Resolve party mentions across reports into clusters, with a reason for every link.

    Parameters
    ----------
    bundle : Bundle
        Uses ``parties`` (``party_id, kind, name, given_name, family_name,
        birth_date, nationality, country``), ``identifiers`` (``owner_kind="party"``
        rows: ``kind, value, raw``; values are re-normalised with
        :mod:`followmoney.normalize`, phones with the party's country as default
        region), ``party_accounts`` (``party_id, account_id, role``) and
        ``transactions`` (``from_party, to_party, from_account, to_account``, for the
        counterparty evidence).
    settings : ResolverSettings, optional
        Defaults to ``ResolverSettings()``.
    counterparties : pyarrow.Table, optional
        Read for the counterparty evidence instead of ``bundle.transactions``: any rows
        with the columns ``from_party, to_party, from_account, to_account`` (distinct
        ones are enough: the evidence is a set), for a bundle that holds only some of
        the transactions (a store scored on the Dask engine).

    Returns
    -------
    Resolution
        ``party_clusters`` (party_id → cluster_id) and ``match_reasons`` (pair, rule,
        decision, score, points, evidence, explanation). ``cluster_id`` is a hash of
        the cluster's smallest ``party_id``: the same for the same inputs in any row
        order, and unchanged when unrelated mentions are added.

    Notes
    -----
    Deterministic order everywhere (mentions by ``party_id``, identifier groups by
    kind and value, fuzzy candidates by points, score and ids), so reordering the
    input rows changes nothing. Cost: O(n + i) for n mentions and i identifiers in
    stage 1 (plus O(g²) name checks inside a group of g mentions sharing one strong
    identifier, g ≤ ``max_identifier_group``); stage 2 compares only pairs within
    blocks of at most ``max_block_size`` strong clusters, O(b · max_block_size) for b
    blocking keys.

    References
    ----------
    .. [1] Christen, P. (2012). *Data Matching*. Springer. Ch. 4 (indexing/blocking).
    .. [2] Splink issues #1824, #2653: connected components over-link; hence
       complete linkage on names for fuzzy joins.

    Examples
    --------
    >>> import followmoney as fm
    >>> res = resolve(fm.read(fm.sample_data_path() / "goaml"))
    >>> res.party_clusters.group_by("cluster_id").aggregate([("party_id", "count")]).num_rows
    8
    """
    settings = settings if settings is not None else ResolverSettings()
    r = _Resolver(bundle, settings, counterparties)
    r.deterministic()
    r.fuzzy()
    return r.result()


def shared_identifiers(
    bundle: Bundle,
    resolution: Resolution | pa.Table,
    *,
    kinds: tuple[str, ...] | None = None,
    min_clusters: int = 2,
) -> pa.Table:
    """Identifiers used by two or more otherwise distinct clusters.

    A phone, e-mail, address, device or document carried by several resolved persons or
    entities, directly or through the accounts they hold. Controllers of trafficking
    victims often register the victims' accounts with their own contact details, so
    each row is a lead.

    Parameters
    ----------
    bundle : Bundle
        Uses ``identifiers`` (party- and account-owned), ``party_accounts`` (an
        account's identifiers count for the clusters of its holders and signatories)
        and ``parties`` (country, the default region for phone numbers).
    resolution : Resolution or pyarrow.Table
        From :func:`resolve`, or its ``party_clusters`` table.
    kinds : tuple of str, optional
        Identifier kinds to consider; default all.
    min_clusters : int, default 2
        Least distinct clusters for a row.

    Returns
    -------
    pyarrow.Table
        :data:`SHARED_IDENTIFIERS_SCHEMA`, sorted by ``n_clusters`` (descending),
        ``kind``, ``key``. Placeholder values (``000000``) are left out.
        ``related_by_account`` marks rows whose clusters all hold a role on one common
        account (e.g. a company and its director at one office address): expected,
        though still listed.

    Notes
    -----
    O(i log i) for i identifier rows (one group-by on the normalised key).

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> t = shared_identifiers(b, resolve(b), kinds=("phone",))
    >>> t.select(["kind", "n_clusters", "n_persons"]).to_pylist()
    [{'kind': 'phone', 'n_clusters': 4, 'n_persons': 4}]
    """
    clusters = resolution.party_clusters if isinstance(resolution, Resolution) else resolution
    cmap = dict(zip(clusters["party_id"].to_pylist(), clusters["cluster_id"].to_pylist()))
    ckind = dict(zip(clusters["cluster_id"].to_pylist(), clusters["kind"].to_pylist()))
    ids = nz.bundle_identifier_keys(bundle)
    if kinds is not None:
        ids = ids.filter(pc.is_in(ids["kind"], pa.array(list(kinds), pa.string())))
    # account -> clusters of the parties with a role on it
    acc_clusters: dict[str, set[str]] = defaultdict(set)
    for pid, aid in zip(bundle.party_accounts["party_id"].to_pylist(), bundle.party_accounts["account_id"].to_pylist()):
        if pid in cmap:
            acc_clusters[aid].add(cmap[pid])
    cluster_accounts: dict[str, set[str]] = defaultdict(set)
    for aid, cs in acc_clusters.items():
        for c in cs:
            cluster_accounts[c].add(aid)

    groups: dict[tuple[str, str], dict] = {}
    for ok, oid, kind, key, ph, raw, ref in zip(
        ids["owner_kind"].to_pylist(), ids["owner_id"].to_pylist(), ids["kind"].to_pylist(), ids["key"].to_pylist(),
        ids["placeholder"].to_pylist(), ids["raw"].to_pylist(), ids["source_ref"].to_pylist(),
    ):  # fmt: skip
        if key is None or ph:
            continue
        g = groups.setdefault((kind, key), {"clusters": set(), "parties": set(), "accounts": set(), "raw": set(), "refs": set()})
        if ok == "party":
            g["parties"].add(oid)
            g["clusters"].add(cmap.get(oid) or f"party:{oid}")
        else:
            g["accounts"].add(oid)
            g["clusters"].update(acc_clusters.get(oid) or {f"account:{oid}"})
        if raw is not None:
            g["raw"].add(raw)
        g["refs"].add(ref)
    rows = []
    for (kind, key), g in groups.items():
        cs = sorted(g["clusters"])
        if len(cs) < min_clusters:
            continue
        common = set.intersection(*(cluster_accounts.get(c, set()) for c in cs))
        rows.append(
            {
                "shared_id": stable_id("S", kind, key),
                "kind": kind,
                "key": key,
                "n_clusters": len(cs),
                "n_persons": sum(ckind.get(c) == "person" for c in cs),
                "n_entities": sum(ckind.get(c) == "entity" for c in cs),
                "n_accounts": len(g["accounts"]),
                "cluster_ids": cs,
                "party_ids": sorted(g["parties"]),
                "account_ids": sorted(g["accounts"]),
                "raw_values": sorted(g["raw"]),
                "source_refs": sorted(g["refs"]),
                "related_by_account": bool(common),
            }
        )
    rows.sort(key=lambda r: (-r["n_clusters"], r["kind"], r["key"]))
    return pa.Table.from_pylist(rows, schema=SHARED_IDENTIFIERS_SCHEMA)


def splink_input(bundle: Bundle) -> pa.Table:
    """A Splink-ready table of party mentions, for FIUs that run probabilistic linkage.

    One row per mention with normalised columns (Splink's ``unique_id`` convention).
    Feed it to ``splink.Linker`` (``pip install followmoney[splink]``) with blocking
    rules on ``surname``/``dob``; the built-in :func:`resolve` needs none of this.

    Parameters
    ----------
    bundle : Bundle
        Uses ``parties`` and party-owned ``identifiers``.

    Returns
    -------
    pyarrow.Table
        ``unique_id, source_dataset (report_id), kind, full_name, first_name, surname,
        name_key (sorted transliterated tokens), dob (ISO date string), nationality,
        country, phone, email`` (first phone / e-mail by value). Raw names are not
        included: use ``unique_id`` to join back.

    Examples
    --------
    >>> import followmoney as fm
    >>> t = splink_input(fm.read(fm.sample_data_path() / "goaml"))
    >>> t.num_rows, t.column_names[:3]
    (33, ['unique_id', 'source_dataset', 'kind'])
    """
    m = _Mentions(bundle, ResolverSettings(corroboration={"counterparty": 0.0}))
    p = bundle.parties
    given = dict(zip(p["party_id"].to_pylist(), p["given_name"].to_pylist()))
    family = dict(zip(p["party_id"].to_pylist(), p["family_name"].to_pylist()))
    report = dict(zip(p["party_id"].to_pylist(), p["report_id"].to_pylist()))
    rows = []
    for i, pid in enumerate(m.ids):
        kind = "person" if m.kind[i] == "person" else "entity"
        rows.append(
            {
                "unique_id": pid,
                "source_dataset": report.get(pid),
                "kind": kind,
                "full_name": nz.normalize_name(m.name[i], kind),
                "first_name": nz.transliterate(given.get(pid)),
                "surname": nz.transliterate(family.get(pid)),
                "name_key": nz.sorted_name_key(m.name[i], kind),
                "dob": m.dob[i],
                "nationality": m.nationality[i],
                "country": m.country[i],
                "phone": min(m.attrs[i].get("phone", ()), default=None),
                "email": min(m.attrs[i].get("email", ()), default=None),
            }
        )
    cols = ["unique_id", "source_dataset", "kind", "full_name", "first_name", "surname", "name_key", "dob",
            "nationality", "country", "phone", "email"]  # fmt: skip
    return pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in cols})
