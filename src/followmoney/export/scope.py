"""One case's neighbourhood as a smaller bundle, for exports limited to one case."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core.bundle import Bundle
from followmoney.exceptions import UnknownSubjectError

__all__ = ["case_bundle"]


def _isin(col, values) -> pa.ChunkedArray:
    return pc.fill_null(pc.is_in(col, value_set=pa.array(sorted(values), pa.string())), False)


def case_bundle(bundle: Bundle, cases: pa.Table, case_id: str, *, resolution=None, hops: int = 1) -> Bundle:
    """The part of ``bundle`` around one case: its subject, who it controls or is controlled by, and their payments.

    Seeds are the case's subject (its ``accounts`` and ``parties`` for a resolved
    person or entity) and the ids in its ``controls`` / ``controlled_by``
    (an account; a party with every mention resolved to the same person and the
    accounts they have a role on; an identifier's owners). Kept: every transaction
    that touches a seed account or party, the accounts and parties at its other end
    (repeated ``hops`` times from those), the roles, identifiers and reports of what
    is kept.

    Parameters
    ----------
    bundle : Bundle
        The run's tables.
    cases : pyarrow.Table
        Cases of the run (``case_id, subject_kind, subject_id, controls, controlled_by``).
    case_id : str
        A ``case_id`` of ``cases`` (the first column of ``cases.xlsx``).
    resolution : followmoney.resolve.Resolution, optional
        Resolved here when None.
    hops : int, default 1
        Payment hops from the seeds.

    Returns
    -------
    Bundle
        Same tables, fewer rows; ``load_log`` is the run's (what was read).

    Raises
    ------
    followmoney.exceptions.UnknownSubjectError
        If ``case_id`` is not a case of the run.
    """
    from followmoney import normalize as nz
    from followmoney.resolve import resolve

    rows = cases.filter(pc.equal(cases["case_id"], case_id)).to_pylist()
    if not rows:
        raise UnknownSubjectError("no case with this id in the run; case ids are the first column of cases.xlsx")
    case = rows[0]
    res = resolution if resolution is not None else resolve(bundle)
    cmap = res.cluster_map()
    members: dict[str, set] = {}
    for pid, cid in cmap.items():
        members.setdefault(cid, set()).add(pid)
    account_ids = set(bundle.accounts["account_id"].to_pylist())
    pa_ = bundle.party_accounts
    roles = list(zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist()))
    ids = nz.bundle_identifier_keys(bundle)
    accounts: set[str] = set()
    parties: set[str] = set()

    def seed(x: str, kind: str | None = None) -> None:
        if kind == "identifier" or (kind is None and x not in account_ids and x not in cmap and ":" in x):
            k, _, v = x.partition(":")
            for ok, oid, ik, key, value in zip(ids["owner_kind"].to_pylist(), ids["owner_id"].to_pylist(),
                                               ids["kind"].to_pylist(), ids["key"].to_pylist(), ids["value"].to_pylist()):  # fmt: skip
                if ik == k and v in (key, value):
                    seed(oid, "account" if ok == "account" else "party")
        elif x in cmap or x in members or kind == "party":
            ps = members.get(cmap.get(x, x), {x})
            parties.update(ps)
            accounts.update(a for p, a in roles if p in ps)
        else:
            accounts.add(x)

    if case["subject_kind"] in ("identifier", "account", "party"):
        seed(case["subject_id"], case["subject_kind"])
    for x in case.get("accounts") or []:  # a resolved subject: its accounts and mentions
        seed(x, "account")
    for x in case.get("parties") or []:
        seed(x, "party")
    for x in (case.get("controls") or []) + (case.get("controlled_by") or []):
        seed(x)
    tx = bundle.transactions
    keep = pa.array([False] * tx.num_rows) if tx.num_rows else pa.array([], pa.bool_())
    for _ in range(max(int(hops), 1)):
        touch = pc.or_(
            pc.or_(_isin(tx["from_account"], accounts), _isin(tx["to_account"], accounts)),
            pc.or_(_isin(tx["from_party"], parties), _isin(tx["to_party"], parties)),
        )
        keep = pc.or_(keep, touch)
        kept = tx.filter(keep)
        accounts |= {a for c in ("from_account", "to_account") for a in kept[c].to_pylist() if a}
        parties |= {p for c in ("from_party", "to_party") for p in kept[c].to_pylist() if p}
    kept = tx.filter(keep)
    parties |= {p for p, a in roles if a in accounts}
    report_ids = set(kept["report_id"].to_pylist()) | set(
        bundle.parties.filter(_isin(bundle.parties["party_id"], parties))["report_id"].to_pylist()
    )
    report_ids.discard(None)
    idt = bundle.identifiers
    owned = pc.or_(
        pc.and_(pc.equal(idt["owner_kind"], "party"), _isin(idt["owner_id"], parties)),
        pc.and_(pc.equal(idt["owner_kind"], "account"), _isin(idt["owner_id"], accounts)),
    )
    return Bundle(
        transactions=kept,
        accounts=bundle.accounts.filter(_isin(bundle.accounts["account_id"], accounts)),
        parties=bundle.parties.filter(_isin(bundle.parties["party_id"], parties)),
        party_accounts=pa_.filter(pc.and_(_isin(pa_["party_id"], parties), _isin(pa_["account_id"], accounts))),
        identifiers=idt.filter(pc.fill_null(owned, False)),
        reports=bundle.reports.filter(_isin(bundle.reports["report_id"], report_ids)),
        statements=bundle.statements.filter(_isin(bundle.statements["account_id"], accounts)),
        load_log=bundle.load_log,
    )
