"""Find the subject an analyst means: a case id, a subject id, an account or a name.

``followmoney report`` and :func:`followmoney.evidence_pack` take what the analyst
has at hand: the first column of ``cases.xlsx`` (a case id), the subject id of an
alert, an account id in any letter case, an account number or IBAN, or a person's or
company's name in any spelling the reports use. A miss suggests the closest case
ids (never names or numbers: error messages carry no personal data).
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from followmoney import normalize as nz
from followmoney.core.bundle import Bundle
from followmoney.detect.cases import build_cases
from followmoney.exceptions import UnknownSubjectError

__all__ = ["find_subject", "subject_mentions"]


def _key(text) -> str:
    return " ".join(str(text).casefold().split()) if text is not None else ""


def _compact(text) -> str:
    return "".join(ch for ch in str(text).casefold() if ch.isalnum())


def find_subject(query: str, bundle: Bundle, alerts: pa.Table, *, cases: pa.Table | None = None, names=None, resolution=None) -> str:
    """The case subject an analyst's query names.

    Cases are per resolved subject (:func:`followmoney.build_cases`): an account, an
    alert subject or a name found below stands for the case that holds it, and the
    case's ``subject_id`` is returned. Tried in order, the first that gives exactly one subject wins: the subject id
    itself; a case id (``cases.xlsx``, first column); a subject id in another letter
    case; an account number, IBAN or account id tail (spaces and case ignored); a
    name, in any spelling the reports give the subject, its holders or the person it
    resolves to (case, accents and spacing ignored).

    Parameters
    ----------
    query : str
    bundle : Bundle
        Uses ``accounts`` and the tables :func:`followmoney.names.display_names` reads.
    alerts : pyarrow.Table
        Alerts of the run (``subject_id``).
    cases : pyarrow.Table, optional
        Cases of the run; built from ``alerts`` (with ``bundle`` and the resolution)
        when None.
    names : followmoney.names.Names, optional
        Built (with resolution) when None.
    resolution : followmoney.resolve.Resolution, optional

    Returns
    -------
    str
        A case's ``subject_id`` (a resolved person or entity, an account or an identifier).

    Raises
    ------
    followmoney.exceptions.UnknownSubjectError
        No subject matches (the message lists the closest case ids), or a name
        matches several subjects (the message lists their case ids).

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> alerts = fm.score(b, fm.Config(jurisdiction="AE"))
    >>> s = find_subject("tariq  FICTUS", b, alerts)
    >>> s == find_subject("dexb/1001002001", b, alerts)  # his account: his case
    True
    >>> from followmoney.names import display_names
    >>> from followmoney.resolve import resolve
    >>> display_names(b, resolve(b)).name(s)
    'Tariq Fictus'
    """
    from followmoney.names import display_names
    from followmoney.resolve import resolve

    query = (query or "").strip()
    res = resolution if resolution is not None else (resolve(bundle) if bundle.parties.num_rows else None)
    cases = cases if cases is not None else build_cases(alerts, bundle, resolution=res)
    case_rows = cases.select([c for c in ("case_id", "subject_id", "alert_subjects", "accounts") if c in cases.column_names]).to_pylist()
    case_subject: dict[str, str] = {}  # alert subject or account -> the case subject standing for it
    for r in case_rows:
        for x in [r["subject_id"], *(r.get("alert_subjects") or []), *(r.get("accounts") or [])]:
            case_subject.setdefault(x, r["subject_id"])
    subjects = list(dict.fromkeys([r["subject_id"] for r in case_rows] + alerts["subject_id"].to_pylist()))
    if query in subjects:
        return case_subject.get(query, query)
    case_of = {r["case_id"]: r["subject_id"] for r in case_rows}
    case_by_subject = {s: c for c, s in case_of.items()}
    by_case = {c.casefold(): s for c, s in case_of.items()}
    if query.casefold() in by_case:
        return by_case[query.casefold()]

    def one(found: list[str], what: str) -> str | None:
        found = list(dict.fromkeys(case_subject.get(s, s) for s in found))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(case_by_subject.get(s, "?") for s in found[:10])
            raise UnknownSubjectError(f"the {what} matches {len(found)} subjects (cases {ids}); give the case id")
        return None

    hit = one([s for s in subjects if s.casefold() == query.casefold()], "subject id")
    if hit:
        return hit
    q = _compact(query)
    if q:
        numbers: dict[str, set] = defaultdict(set)
        for r in bundle.accounts.select(["account_id", "account_number", "iban"]).to_pylist():
            for v in (r["account_number"], r["iban"], r["account_id"].rpartition("/")[2], r["account_id"]):
                if v:
                    numbers[_compact(v)].add(r["account_id"])
        for s in subjects:
            numbers[_compact(s.rpartition("/")[2])].add(s)
        hit = one([s for s in sorted(numbers.get(q, ())) if s in set(subjects) or s in case_subject], "account number")
        if hit:
            return hit
    names = names if names is not None else display_names(bundle, res)
    qk, qn = _key(query), nz.normalize_name(query)
    spellings: dict[str, set] = defaultdict(set)
    for s in subjects:
        for v in names.variants.get(s, []) or ([names.name(s)] if names.name(s) else []):
            spellings[s].update(x for x in (_key(v), nz.normalize_name(v)) if x)
    found = [s for s in subjects if qk in spellings[s] or (qn and qn in spellings[s])]
    hit = one(found, "name")
    if hit:
        return hit
    from rapidfuzz import fuzz, process

    choices = {}
    for s in subjects:
        for text in [s, *names.variants.get(s, [])]:
            choices[f"{s}\x00{text}"] = _key(text)
    for c, s in case_of.items():
        choices[f"{s}\x00{c}"] = c.casefold()
    best = process.extract(qk, choices, scorer=fuzz.WRatio, limit=20)
    close = list(dict.fromkeys(case_by_subject[case_subject.get(k.split("\x00")[0], k.split("\x00")[0])] for _, score, k in best
                               if score >= 60 and case_subject.get(k.split("\x00")[0], k.split("\x00")[0]) in case_by_subject))[:3]  # fmt: skip
    hint = f"; closest cases: {', '.join(close)}" if close else ""
    raise UnknownSubjectError(
        "no alert for subject: no case id, subject id, account or name in this run matches the query"
        + hint + " (case ids are the first column of cases.xlsx)"
    )


def subject_mentions(bundle: Bundle, subject: str, *, resolution=None) -> tuple[set[str], set[str]]:
    """The party mentions and accounts that stand for ``subject``.

    An account: its own id, and every party with a role on it. A party: every
    mention resolved to the same person or entity, and the accounts they have a
    role on. An identifier (``kind:value``): the parties and accounts that use it.

    Parameters
    ----------
    bundle : Bundle
    subject : str
    resolution : followmoney.resolve.Resolution, optional

    Returns
    -------
    (set of str, set of str)
        Party ids and account ids.
    """
    cmap = resolution.cluster_map() if resolution is not None else {}
    members: dict[str, set] = defaultdict(set)
    for pid, cid in cmap.items():
        members[cid].add(pid)
    pa_ = bundle.party_accounts
    roles = list(zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist()))
    parties: set[str] = set()
    accounts: set[str] = set()
    party_ids = set(bundle.parties["party_id"].to_pylist())
    if subject in party_ids or subject in members:
        parties |= members.get(cmap.get(subject, subject), {subject})
        accounts |= {a for p, a in roles if p in parties}
    elif ":" in subject and subject.split(":", 1)[0] in ("phone", "email", "address", "passport", "national_id", "tax_id", "id_document", "device", "ip"):
        kind, _, value = subject.partition(":")
        ids = nz.bundle_identifier_keys(bundle)
        for ok, oid, k, key, v in zip(ids["owner_kind"].to_pylist(), ids["owner_id"].to_pylist(), ids["kind"].to_pylist(),
                                      ids["key"].to_pylist(), ids["value"].to_pylist()):  # fmt: skip
            if k == kind and value in (key, v):
                (accounts if ok == "account" else parties).add(oid)
    else:
        accounts.add(subject)
        holders = {p for p, a in roles if a == subject}
        parties |= {m for p in holders for m in members.get(cmap.get(p, p), {p})}
    return parties, accounts
