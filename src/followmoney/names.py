"""Display names for the ids analysts read: parties, resolved persons, accounts, identifiers.

Cases, alerts, evidence packs, link charts and exports key everything by ids (hashes
of content, ``bank/number`` account ids). People read names. :func:`display_names`
builds, once per load, the name to show beside each id:

* a party mention or a resolved cluster: the name its reports give most often
  (given and family name joined when the report has no full name), with every
  spelling seen kept as ``variants``;
* an account: its holders' names (through ``party_accounts``, holders first, then
  beneficial owners, then anyone with a role), else the account name of the source;
  the label adds the account number, e.g. ``"Tariq Fictus · 1001002001"``;
* an identifier subject (``phone:+9715...``, graph node ``id:phone:+9715...``): its value.

The ids stay beside the names in every output: a name is for reading, the id for
looking up.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core.bundle import Bundle

__all__ = ["Names", "display_names", "party_name"]

_ROLE_ORDER = {"holder": 0, "beneficial_owner": 1, "controller": 2, "signatory": 3, "director": 4}


def party_name(row: dict) -> str | None:
    """The readable name of one ``parties`` row: ``name``, else given and family name.

    Examples
    --------
    >>> party_name({"name": None, "given_name": "Amina", "family_name": "Examplova"})
    'Amina Examplova'
    >>> party_name({"name": " ", "given_name": None, "family_name": None}) is None
    True
    """
    name = (row.get("name") or "").strip()
    if name:
        return name
    joined = " ".join(x.strip() for x in (row.get("given_name"), row.get("family_name")) if x and x.strip())
    return joined or None


class Names:
    """Names to show for ids, built by :func:`display_names`.

    Attributes
    ----------
    names : dict of str to str
        id (party, cluster, account, identifier subject or node) → the display name.
    variants : dict of str to list of str
        id → every spelling seen (most frequent first).
    numbers : dict of str to str
        account id → account number (or IBAN) for labels.
    kinds : dict of str to str
        id → ``person``, ``entity``, ``unknown``, ``account``, ``identifier`` or ``cluster``.
    """

    def __init__(self, names: dict, variants: dict, numbers: dict, kinds: dict):
        self.names = names
        self.variants = variants
        self.numbers = numbers
        self.kinds = kinds

    def name(self, node_id) -> str | None:
        """The display name of ``node_id``, or None when no source names it."""
        if node_id is None:
            return None
        node_id = str(node_id)
        if node_id in self.names:
            return self.names[node_id]
        if node_id.startswith("id:") and node_id.count(":") >= 2:  # graph identifier node
            return node_id.split(":", 2)[2]
        kind, sep, value = node_id.partition(":")
        if sep and kind in ("phone", "email", "address", "passport", "national_id", "tax_id", "id_document", "device", "ip"):
            return value
        return None

    def label(self, node_id) -> str:
        """A label for charts and link-analysis tools: never empty.

        The name, with the account number for accounts; the id where nothing names it.

        Examples
        --------
        >>> n = Names({"A/1": "Tariq Fictus"}, {}, {"A/1": "1"}, {"A/1": "account"})
        >>> n.label("A/1"), n.label("B/2"), n.label("phone:+9715")
        ('Tariq Fictus · 1', 'B/2', '+9715')
        """
        if node_id is None:
            return ""
        node_id = str(node_id)
        name = self.name(node_id)
        number = self.numbers.get(node_id)
        if name and number and number not in name:
            return f"{name} · {number}"
        return name or number or node_id

    def with_id(self, node_id) -> str:
        """``"Name (id)"`` where a name is known, else the id."""
        name = self.name(node_id)
        return f"{name} ({node_id})" if name else ("" if node_id is None else str(node_id))

    def add_name_columns(self, table: pa.Table, columns: Iterable[tuple[str, str]]) -> pa.Table:
        """``table`` with a name column added after each id column.

        Parameters
        ----------
        table : pyarrow.Table
        columns : iterable of (str, str)
            ``(id column, new name column)``; an id column holding lists gets a list
            of names. Id columns absent from ``table`` are skipped.

        Returns
        -------
        pyarrow.Table
        """
        for col, new in columns:
            if col not in table.column_names or new in table.column_names:
                continue
            field = table.schema.field(col)
            values = table[col].to_pylist()
            if pa.types.is_list(field.type):
                arr = pa.array([None if v is None else [self.name(x) or "" for x in v] for v in values], pa.list_(pa.string()))
            else:
                arr = pa.array([self.name(v) for v in values], pa.string())
            table = table.add_column(table.column_names.index(col) + 1, new, arr)
        return table


def _account_numbers(accounts: pa.Table) -> pa.ChunkedArray:
    """Each account's number for labels: its IBAN, else its account number (empty text counts as none), else the id after its last ``/``."""
    given = lambda c: pc.fill_null(pc.greater(pc.utf8_length(accounts[c]), 0), False)  # noqa: E731
    tail = pc.replace_substring_regex(accounts["account_id"], r"(?s)^.*/", "")
    return pc.if_else(given("iban"), accounts["iban"], pc.if_else(given("account_number"), accounts["account_number"], tail))


def display_names(bundle: Bundle, resolution=None) -> Names:
    """Build the :class:`Names` of a load.

    Parameters
    ----------
    bundle : Bundle
        Uses ``parties`` (``party_id, kind, name, given_name, family_name``),
        ``accounts`` (``account_id, account_number, iban, name``) and
        ``party_accounts`` (``party_id, account_id, role``).
    resolution : followmoney.resolve.Resolution, optional
        When given, every mention of a resolved person shows the cluster's name (its
        most frequent spelling) and the cluster id is named too; otherwise each
        mention shows its own name.

    Returns
    -------
    Names

    Examples
    --------
    >>> import followmoney as fm
    >>> n = display_names(fm.read(fm.sample_data_path() / "goaml"))
    >>> n.label("DEXB/1001002001")
    'Tariq Fictus · 1001002001'
    """
    cmap = resolution.cluster_map() if resolution is not None else {}
    rows = bundle.parties.select(["party_id", "kind", "name", "given_name", "family_name"]).to_pylist()
    spellings: dict[str, Counter] = defaultdict(Counter)
    kinds: dict[str, str] = {}
    for r in rows:
        owner = cmap.get(r["party_id"], r["party_id"])
        nm = party_name(r)
        if nm:
            spellings[owner][nm] += 1
        kinds[r["party_id"]] = r["kind"] or "unknown"
        if owner != r["party_id"]:
            kinds.setdefault(owner, r["kind"] or "unknown")
    variants = {o: [s for s, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))] for o, c in spellings.items()}
    names = {o: v[0] for o, v in variants.items() if v}
    for r in rows:  # mentions show the cluster's name and variants
        owner = cmap.get(r["party_id"], r["party_id"])
        if owner in names and owner != r["party_id"]:
            names[r["party_id"]] = names[owner]
            variants[r["party_id"]] = variants[owner]

    acc = bundle.accounts
    account_ids = acc["account_id"].to_pylist()
    numbers = dict(zip(account_ids, _account_numbers(acc).to_pylist()))
    held: dict[str, list[tuple[int, str]]] = defaultdict(list)
    pa_ = bundle.party_accounts
    for pid, aid, role in zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist(), pa_["role"].to_pylist()):
        n = names.get(cmap.get(pid, pid)) or names.get(pid)
        if n:
            held[aid].append((_ROLE_ORDER.get(role, 9), n))
        numbers.setdefault(aid, aid.rpartition("/")[2])
    kinds.update(dict.fromkeys(account_ids, "account"))
    named = pc.or_(pc.fill_null(pc.greater(pc.utf8_length(acc["name"]), 0), False), pc.is_in(acc["account_id"], value_set=pa.array(list(held), pa.string())))
    some = acc.select(["account_id", "name"]).filter(named)  # the accounts a holder or the source names, in order
    for aid, own in zip(some["account_id"].to_pylist(), some["name"].to_pylist()):
        if held.get(aid):
            best = min(o for o, _ in held[aid])
            who = list(dict.fromkeys(n for o, n in sorted(held[aid]) if o == best))
            names[aid] = " / ".join(who)
            variants[aid] = list(dict.fromkeys(n for _, n in sorted(held[aid])))
        elif own and own.strip():
            names[aid] = own.strip()
            variants[aid] = [names[aid]]
    for aid, hs in held.items():  # accounts only named in roles
        if aid not in kinds:
            kinds[aid] = "account"
            best = min(o for o, _ in hs)
            names[aid] = " / ".join(dict.fromkeys(n for o, n in sorted(hs) if o == best))
            variants[aid] = list(dict.fromkeys(n for _, n in sorted(hs)))
    return Names(names, variants, numbers, kinds)
