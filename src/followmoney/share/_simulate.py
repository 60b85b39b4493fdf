"""Two synthetic FIUs that see one synthetic world, with the truth of what they share."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core.bundle import Bundle

__all__ = ["two_fius"]


def _in(col, values):
    return pc.fill_null(pc.is_in(col, value_set=pa.array(sorted(values), pa.string())), False)


def _typo(rng, s: str) -> str:
    """One edit (substitution, deletion or insertion) inside a word of ``s``, never the first letter."""
    i = int(rng.integers(1, len(s))) if len(s) > 1 else 0
    c = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))]
    op = int(rng.integers(3))
    if op == 0 and s[i].lower() != c:
        return s[:i] + c + s[i + 1:]
    if op == 1 and len(s) > 3:
        return s[:i] + s[i + 1:]
    return s[:i] + c + s[i:]


def _rename(t: pa.Table, cols, mapping: dict) -> pa.Table:
    for col in cols:
        vals = [mapping.get(v, v) for v in t[col].to_pylist()]
        t = t.set_column(t.column_names.index(col), col, pa.array(vals, pa.string()))
    return t


def _view(world: Bundle, own_accounts: set, extra_parties: pa.Table | None, rename: dict, tag: str) -> Bundle:
    t = world.transactions
    tx = t.filter(pc.or_(_in(t["from_account"], own_accounts), _in(t["to_account"], own_accounts)))
    seen = {a for a in tx["from_account"].to_pylist() + tx["to_account"].to_pylist() if a}
    pa_ = world.party_accounts.filter(_in(world.party_accounts["account_id"], own_accounts))
    holders = set(pa_["party_id"].to_pylist())
    acc = world.accounts.filter(_in(world.accounts["account_id"], seen))
    foreign = pc.invert(_in(acc["account_id"], own_accounts))
    for col in ("name", "opened", "status"):  # a counterparty account: bank and number only
        acc = acc.set_column(acc.column_names.index(col), col, pc.if_else(foreign, pa.scalar(None, acc[col].type), acc[col]))
    parties = world.parties.filter(_in(world.parties["party_id"], holders))
    ids = world.identifiers.filter(_in(world.identifiers["owner_id"], holders))
    if extra_parties is not None:
        parties = pa.concat_tables([parties, extra_parties[0]])
        ids = pa.concat_tables([ids, extra_parties[1]])
    # party ids of this FIU's own namespace (its reports name people its own way)
    parties = _rename(parties, ["party_id"], rename)
    ids = _rename(ids, ["owner_id"], rename)
    pa_ = _rename(pa_, ["party_id"], rename)
    tx = _rename(tx, ["from_party", "to_party"], rename)
    tables = {"transactions": tx, "accounts": acc, "parties": parties, "party_accounts": pa_, "identifiers": ids}
    for name, table in tables.items():  # the FIU's own file name in every source reference
        refs = pc.replace_substring_regex(table["source_ref"], pattern=r"^[^#:]+", replacement=f"{tag}-synthetic")
        tables[name] = table.set_column(table.column_names.index("source_ref"), "source_ref", refs)
    tx, acc, parties, pa_, ids = tables.values()
    n = {"transactions": tx.num_rows, "accounts": acc.num_rows, "parties": parties.num_rows,
         "party_accounts": pa_.num_rows, "identifiers": ids.num_rows}
    log = pa.table({"source_file": [f"{tag}-synthetic"] * len(n), "source": ["synth"] * len(n), "table": list(n),
                    "records_read": list(n.values()), "rows_written": list(n.values()), "merged": [0] * len(n),
                    "rejected": [0] * len(n), "sha256": [None] * len(n)})
    return Bundle(transactions=tx, accounts=acc, parties=parties, party_accounts=pa_, identifiers=ids, load_log=log)


def two_fius(n_accounts: int = 600, n_days: int = 60, *, shared: float = 0.2, typo: float = 0.3, typologies=(),
             random_state=0):
    """Two FIUs that see one synthetic world (:func:`followmoney.datasets.synth.make_transactions`).

    Accounts are split at random between country A and country B (half each). Each FIU
    sees the transactions touching its own accounts, its account holders with their
    identifiers (party ids in its own namespace), and the other country's accounts only
    as counterparties (bank and number). Besides, FIU B holds a record of a share of
    A's account holders (as a remittance customer would appear): a copy with the same
    birth date, e-mail written in upper case, and for a share ``typo`` of them one typo
    in the name and no e-mail, so that only fuzzy name matching can find them.

    Parameters
    ----------
    n_accounts, n_days : int
        Size of the world (see :func:`followmoney.datasets.synth.make_transactions`).
    shared : float, default 0.2
        Share of A's account-holding persons that B also holds a record of.
    typo : float, default 0.3
        Share of those whose name in B carries one typo.
    typologies : sequence of str, default ()
        Typologies injected into the world (as for ``make_transactions``), e.g.
        ``["HT-03"]``: their accounts fall on either side of the border like any other.
    random_state : int, default 0

    Returns
    -------
    fiu_a, fiu_b : Bundle
    truth : dict
        ``persons_exact`` and ``persons_typo``: sets of ``(A party_id, B party_id)``;
        ``accounts``: account ids both FIUs see; ``a_accounts``, ``b_accounts``: each
        country's own accounts.

    Examples
    --------
    >>> a, b, truth = two_fius(300, 30, random_state=1)
    >>> len(truth["persons_exact"]) > 0 and len(truth["persons_typo"]) > 0
    True
    >>> a.reconcile(); b.reconcile()
    """
    from followmoney.datasets.synth import make_transactions

    world, _ = make_transactions(n_accounts, n_days, typologies=list(typologies), random_state=random_state)
    rng = np.random.default_rng(random_state)
    accounts = world.accounts["account_id"].to_pylist()
    in_a = rng.random(len(accounts)) < 0.5
    a_acc = {a for a, x in zip(accounts, in_a) if x}
    b_acc = set(accounts) - a_acc
    pa_ = world.party_accounts
    a_holders = sorted(set(pa_.filter(_in(pa_["account_id"], a_acc))["party_id"].to_pylist()))
    persons = world.parties.filter(pc.and_(_in(world.parties["party_id"], a_holders),
                                           pc.equal(world.parties["kind"], "person")))
    persons = persons.filter(pc.and_(pc.is_valid(persons["birth_date"]),
                                     pc.and_(pc.is_valid(persons["given_name"]), pc.is_valid(persons["family_name"]))))
    pids = persons["party_id"].to_pylist()
    pick = sorted(rng.choice(len(pids), size=int(round(shared * len(pids))), replace=False).tolist())
    n_typo = int(round(typo * len(pick)))
    typo_set = set(pick[:n_typo])
    rows, id_rows = [], []
    truth_exact, truth_typo = set(), set()
    id_tab = world.identifiers.to_pylist()
    by_owner: dict = {}
    for r in id_tab:
        by_owner.setdefault(r["owner_id"], []).append(r)
    email_owners = {}
    for r in id_tab:
        if r["kind"] == "email":
            email_owners[r["value"]] = email_owners.get(r["value"], 0) + 1
    for i in pick:
        p = persons.slice(i, 1).to_pylist()[0]
        new_id = f"fiuB/K{i:06d}"
        q = dict(p, party_id=new_id, source_ref=f"B-synthetic#kyc/{i}", occupation="remittance customer")
        if i in typo_set:
            if rng.random() < 0.5:
                q["given_name"] = _typo(rng, p["given_name"])
            else:
                q["family_name"] = _typo(rng, p["family_name"])
            q["name"] = f"{q['given_name']} {q['family_name']}"
            truth_typo.add((p["party_id"], new_id))
        else:
            q["name"] = f"{p['family_name'].upper()}, {p['given_name']}"  # written another way
            for r in by_owner.get(p["party_id"], []):
                if r["kind"] == "email" and email_owners[r["value"]] == 1:  # household e-mails stay out
                    id_rows.append(dict(r, owner_id=new_id, value=r["value"].upper(), raw=r["raw"].upper() if r["raw"] else None,
                                        source_ref=f"B-synthetic#kyc/{i}/email"))
            truth_exact.add((p["party_id"], new_id))
        rows.append(q)
    extra = (pa.Table.from_pylist(rows, schema=world.parties.schema) if rows else world.parties.schema.empty_table(),
             pa.Table.from_pylist(id_rows, schema=world.identifiers.schema) if id_rows else world.identifiers.schema.empty_table())
    b_holders = set(pa_.filter(_in(pa_["account_id"], b_acc))["party_id"].to_pylist())
    rename_b = {p: "fiuB/" + p.split("/", 1)[-1] for p in b_holders | set(world.transactions["from_party"].to_pylist())
                | set(world.transactions["to_party"].to_pylist()) if p}
    fiu_a = _view(world, a_acc, None, {}, "A")
    fiu_b = _view(world, b_acc, extra, rename_b, "B")
    both = set(fiu_a.accounts["account_id"].to_pylist()) & set(fiu_b.accounts["account_id"].to_pylist())
    return fiu_a, fiu_b, {"persons_exact": truth_exact, "persons_typo": truth_typo, "accounts": both,
                          "a_accounts": a_acc, "b_accounts": b_acc}
