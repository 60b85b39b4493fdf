"""The outcome of a trace (:class:`TraceResult`) and its tables, assembled from a walk."""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.core.units import MONEY_SCALE
from followmoney.trace._common import _METHOD_WORDS, _US_PER_DAY, STOP_REASONS, _fmt
from followmoney.trace._engine import _Run
from followmoney.trace._index import TraceIndex, _Scope

__all__ = ["TraceResult"]


@dataclass
class TraceResult:
    """The outcome of a trace: hops, end positions, sources, exits, assumptions.

    Every money column is ``decimal128(18, 3)`` in the row's ``currency``; times are
    ``timestamp[us, UTC]``. Rows are in a deterministic order: hops in global
    (timestamp, txn_id) order, positions by tainted balance (largest first) then account.

    Attributes
    ----------
    direction : {"forward", "backward"}
    method : str
        One of :data:`METHODS`.
    params : dict
        The request as run (start, amount, since, until, hops, min_amount, currency,
        rates given or not), for the case file.
    hops : pyarrow.Table
        One row per transaction that moved existing taint: ``hop`` (int32: 1 = a payment
        by the source account; backward: the sending account's distance to the
        destination), ``txn_id``, ``timestamp``, ``from_account``, ``to_account``,
        ``amount`` (the whole payment), ``currency``, ``tainted_amount`` (the part of
        it deemed tainted), ``method``, ``stop`` (null when followed on, else a key of
        :data:`STOP_REASONS`), ``source_ref`` (file:line or file#XPath of the
        transaction). With a rate table also ``original_amount``,
        ``original_currency``, ``rate`` (string, exact) and ``rate_date``.
    positions : pyarrow.Table
        One row per account still holding taint at the end: ``account``, ``currency``,
        ``tainted_balance``, ``balance`` (the account's whole balance then, with the
        opening-balance assumption), ``share`` (float64, tainted / balance), ``depth``
        (fewest hops by which taint reached it; backward: distance to the destination).
    sources : pyarrow.Table
        Where taint was created: ``source`` (label), ``txn_id`` (null for a balance
        marked tainted), ``timestamp``, ``from_account``, ``account`` (receiving),
        ``amount`` (taint created: the part of the transaction not already tainted),
        ``currency``, ``source_ref``.
    exits : pyarrow.Table
        Taint no longer followed: ``currency``, ``reason`` (key of
        :data:`STOP_REASONS`), ``tainted_amount``, ``transactions``.
    totals : pyarrow.Table
        Per currency: ``tainted`` (created) = ``held`` (sum of positions) + ``exited``.
    assumptions : list of str
        Assumptions the figures rest on (opening balances, skipped currencies, ...).
    funding : pyarrow.Table or None
        Backward only: ``origin`` (an account, or "(outside the data: <channel>)"),
        ``kind`` ("own_funds": what that upstream account held before the window, or
        its opening balance, where the trail ends; "inflow": paid in by an account
        outside the upstream set, e.g. beyond the hop limit; "external": cash or an
        unknown payer), ``amount``, ``share`` (of the destination balance or payment),
        ``currency``. Amounts sum exactly to the destination amount.
    hop_sources, position_sources : pyarrow.Table or None
        With ``by_source=True``: the tainted amounts of ``hops`` and ``positions`` split
        by ``source``.
    ledger : pyarrow.Table or None
        With ``ledger=True``: the schedule a forensic accountant files. One row after each
        step that can change an account's taint (its payments while it holds taint, and
        its receipts of taint): ``seq``, ``txn_id`` (null for the starting balance),
        ``timestamp``, ``account``, ``side`` ("start", "out", "in"),
        ``tainted_balance`` and ``balance`` after the step, ``currency``. Clean receipts
        change no taint and have no row; they show in the next row's ``balance``.
    """

    direction: str
    method: str
    params: dict
    hops: pa.Table
    positions: pa.Table
    sources: pa.Table
    exits: pa.Table
    totals: pa.Table
    assumptions: list
    funding: pa.Table | None = None
    hop_sources: pa.Table | None = None
    position_sources: pa.Table | None = None
    ledger: pa.Table | None = None

    def check_conservation(self) -> bool:
        """True when, per currency, taint created = taint held at the end + taint that left.

        Also checks every account: tainted in (followed hops and sources into it) =
        tainted out (hops out of it) + tainted remaining.
        """
        for row in self.totals.to_pylist():
            if row["tainted"] != row["held"] + row["exited"]:
                return False
        flows: dict = defaultdict(int)
        h = self.hops.select(["from_account", "to_account", "tainted_amount", "stop", "currency"]).to_pylist()
        for r in h:
            flows[(r["from_account"], r["currency"])] -= r["tainted_amount"]
            if r["stop"] is None and r["to_account"] is not None:
                flows[(r["to_account"], r["currency"])] += r["tainted_amount"]
        for r in self.sources.select(["account", "amount", "currency"]).to_pylist():
            if r["account"] is not None:
                flows[(r["account"], r["currency"])] += r["amount"]
        held = {(r["account"], r["currency"]): r["tainted_balance"] for r in self.positions.to_pylist()}
        for k in set(flows) | set(held):
            if flows.get(k, 0) != held.get(k, 0):
                return False
        return True

    # -- presentation
    def summary(self, top: int = 5) -> str:
        """A short account in plain words, for a case file.

        Parameters
        ----------
        top : int, default 5
            How many destinations (forward) or origins (backward) to name.

        Returns
        -------
        str
        """
        p = self.params
        lines = []
        rule = _METHOD_WORDS[self.method]
        window = f"from {p['since']}" if p.get("since") else "from the start of the data"
        window += f" to {p['until']}" if p.get("until") else " to the end of the data"
        for tot in self.totals.to_pylist():
            cur = tot["currency"]
            tainted = _cents(tot["tainted"])
            if self.direction == "forward":
                lines.append(f"Forward trace ({cur}) {window}, allocation rule: {rule}.")
                lines.append(f"Source: {p['source_words']}; tainted in total: {_fmt(cur, tainted)}.")
            else:
                lines.append(f"Backward trace ({cur}) {window}, allocation rule: {rule}.")
                lines.append(f"Destination: {p['source_words']}: {_fmt(cur, p['destination_cents'][cur])}.")
            hops = self.hops.filter(pc.equal(self.hops["currency"], cur))
            pos = self.positions.filter(pc.equal(self.positions["currency"], cur))
            followed = hops.filter(pc.is_null(hops["stop"]))
            reached = len(set(followed["to_account"].to_pylist()))
            if self.direction == "forward":
                if hops.num_rows:
                    max_hop = pc.max(hops["hop"]).as_py()
                    lines.append(
                        f"Taint moved in {hops.num_rows} payment(s), up to hop {max_hop}, into {reached} account(s)."
                    )
                else:
                    lines.append("No tainted money was paid out in the window.")
                held = _cents(tot["held"])
                lines.append(f"At the end {_fmt(cur, held)} ({_pct(held, tainted)}) is held in {pos.num_rows} account(s)")
                lines[-1] += ":" if top and pos.num_rows else "."
                for r in pos.slice(0, top).to_pylist():
                    lines.append(
                        f"  - {r['account']}: {_fmt(cur, _cents(r['tainted_balance']))} tainted, "
                        f"{r['share']:.1%} of its balance of {_fmt(cur, _cents(r['balance']))} (hop {r['depth']})"
                    )
                if top and pos.num_rows > top:
                    lines.append(f"  - and {pos.num_rows - top} other account(s)")
                ex = self.exits.filter(pc.equal(self.exits["currency"], cur)).to_pylist()
                if ex:
                    out = _cents(tot["exited"])
                    lines.append(f"{_fmt(cur, out)} ({_pct(out, tainted)}) left the trace:")
                    for r in ex:
                        c = _cents(r["tainted_amount"])
                        lines.append(f"  - {_fmt(cur, c)} {STOP_REASONS[r['reason']]} ({r['transactions']} payment(s))")
            else:
                total = p["destination_cents"][cur]
                fund = self.funding.filter(pc.equal(self.funding["currency"], cur))
                lines.append(
                    f"The upstream set has {p['upstream_accounts']} account(s); money of identified origins "
                    f"moved between them in {followed.num_rows} payment(s)."
                )
                lines.append(f"It was funded by {fund.num_rows} origin(s)")
                lines[-1] += ":" if top and fund.num_rows else "."
                kind = {"own_funds": "own funds", "inflow": "paid in from outside the set", "external": "cash or unknown"}
                for r in fund.slice(0, top).to_pylist():
                    lines.append(
                        f"  - {r['origin']} ({kind[r['kind']]}): {_fmt(cur, _cents(r['amount']))} "
                        f"({_pct(_cents(r['amount']), total)})"
                    )
                if top and fund.num_rows > top:
                    lines.append(f"  - and {fund.num_rows - top} other origin(s)")
        lines.append(
            "Conservation: taint created = taint held + taint that left the trace, exactly to the cent."
            if self.check_conservation()
            else "WARNING: conservation check failed."
        )
        if self.assumptions:
            lines.append("Assumptions:")
            lines.extend(f"  - {a}" for a in self.assumptions)
        return "\n".join(lines)

    def top_destinations(self, n: int = 10) -> pa.Table:
        """The ``n`` largest end positions (forward) or origins (backward).

        Returns
        -------
        pyarrow.Table
            The first ``n`` rows of ``positions`` (forward) or ``funding`` (backward).
        """
        return (self.funding if self.direction == "backward" else self.positions).slice(0, n)

    def plot(self, ax=None, **kwargs):
        """Draw the flow diagram; see :class:`followmoney.view.plot.TraceFlowDisplay`.

        Returns
        -------
        followmoney.view.plot.TraceFlowDisplay
        """
        from followmoney.view.plot import TraceFlowDisplay

        return TraceFlowDisplay.from_trace(self, ax=ax, **kwargs)

    def _repr_html_(self) -> str:
        head = html.escape(self.summary()).replace("\n", "<br>")
        top = self.top_destinations(10).to_pandas()
        return f"<div><p style='font-family:monospace'>{head}</p>{top.to_html(index=False)}</div>"

    def __repr__(self) -> str:
        return (
            f"TraceResult(direction={self.direction!r}, method={self.method!r}, hops={self.hops.num_rows}, "
            f"positions={self.positions.num_rows}, exits={self.exits.num_rows})"
        )


def _cents(d: Decimal | None) -> int:
    return 0 if d is None else int(d * MONEY_SCALE)


def _pct(a: int, b: int) -> str:
    return f"{a / b:.1%}" if b else "n/a"


# --------------------------------------------------------------------- assembling
_HOP_SCHEMA = pa.schema(
    [
        ("hop", pa.int32()),
        ("txn_id", pa.string()),
        ("timestamp", schema.TIMESTAMP),
        ("from_account", pa.string()),
        ("to_account", pa.string()),
        ("amount", schema.MONEY),
        ("currency", pa.string()),
        ("tainted_amount", schema.MONEY),
        ("method", pa.string()),
        ("stop", pa.string()),
        ("source_ref", pa.string()),
    ]
)
_RATE_FIELDS = [
    ("original_amount", schema.MONEY),
    ("original_currency", pa.string()),
    ("rate", pa.string()),
    ("rate_date", pa.date32()),
]
_POS_SCHEMA = pa.schema(
    [
        ("account", pa.string()),
        ("currency", pa.string()),
        ("tainted_balance", schema.MONEY),
        ("balance", schema.MONEY),
        ("share", pa.float64()),
        ("depth", pa.int32()),
    ]
)
_SRC_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("txn_id", pa.string()),
        ("timestamp", schema.TIMESTAMP),
        ("from_account", pa.string()),
        ("account", pa.string()),
        ("amount", schema.MONEY),
        ("currency", pa.string()),
        ("source_ref", pa.string()),
    ]
)
_EXIT_SCHEMA = pa.schema(
    [("currency", pa.string()), ("reason", pa.string()), ("tainted_amount", schema.MONEY), ("transactions", pa.int64())]
)
_TOTAL_SCHEMA = pa.schema(
    [("currency", pa.string()), ("tainted", schema.MONEY), ("held", schema.MONEY), ("exited", schema.MONEY)]
)
_LEDGER_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("txn_id", pa.string()),
        ("timestamp", schema.TIMESTAMP),
        ("account", pa.string()),
        ("side", pa.string()),
        ("tainted_balance", schema.MONEY),
        ("balance", schema.MONEY),
        ("currency", pa.string()),
    ]
)
_TAGS_SCHEMA = {
    "hop": pa.schema([("txn_id", pa.string()), ("source", pa.string()), ("tainted_amount", schema.MONEY), ("currency", pa.string())]),
    "pos": pa.schema([("account", pa.string()), ("source", pa.string()), ("tainted_balance", schema.MONEY), ("currency", pa.string())]),
}
_FUND_SCHEMA = pa.schema(
    [("origin", pa.string()), ("kind", pa.string()), ("amount", schema.MONEY), ("share", pa.float64()), ("currency", pa.string())]
)


def _assemble(sc: _Scope, run: _Run, method: str, tags: list[str], end: int, start_us: int, record_tags: bool):
    """Turn an engine run into tables (one currency)."""
    ix = sc.ix
    cur = sc.currency
    lp = np.asarray(run.hop_pos, dtype=np.int64)
    gp = sc.pos[lp]
    base = ix.rows(gp)
    hops = {
        "hop": pa.array(run.hop_num, pa.int32()),
        "txn_id": base["txn_id"],
        "timestamp": base["timestamp"],
        "from_account": base["from_account"],
        "to_account": base["to_account"],
        "amount": schema.from_cents(sc.amt[lp]),
        "currency": pa.array([cur] * len(lp), pa.string()),
        "tainted_amount": schema.from_cents(run.hop_taint),
        "method": pa.array([method] * len(lp), pa.string()),
        "stop": pa.array(run.hop_stop, pa.string()),
        "source_ref": base["source_ref"],
    }
    fields = list(_HOP_SCHEMA)
    if sc.rate is not None:
        hops["original_amount"] = schema.from_cents(ix.cents[gp])
        hops["original_currency"] = base["currency"]
        hops["rate"] = pa.array(sc.rate[lp].tolist(), pa.string())
        rd = sc.rate_date[lp]
        hops["rate_date"] = pa.array(np.where(rd < 0, 0, rd // _US_PER_DAY).astype(np.int32), pa.date32(), mask=rd < 0)
        fields += [pa.field(n, t) for n, t in _RATE_FIELDS]
    hop_table = pa.Table.from_pydict(hops, schema=pa.schema(fields))

    accts = np.fromiter(run.held, dtype=np.int64, count=len(run.held))
    held = np.fromiter(run.held.values(), dtype=np.int64, count=len(run.held))
    bal = sc.balances_before(accts, end + 1)
    if run.offsets:
        bal += np.array([run.offsets.get(a, 0) for a in accts.tolist()], dtype=np.int64)
    names = ix.names(accts)
    order = pc.sort_indices(
        pa.table({"h": held, "a": names}), sort_keys=[("h", "descending"), ("a", "ascending")]
    ).to_numpy()
    accts, held, bal = accts[order], held[order], bal[order]
    pos_table = pa.Table.from_pydict(
        {
            "account": names.take(pa.array(order)),
            "currency": pa.array([cur] * len(accts), pa.string()),
            "tainted_balance": schema.from_cents(held),
            "balance": schema.from_cents(bal),
            "share": pa.array(held / np.where(bal == 0, 1, bal), pa.float64()),
            "depth": pa.array([run.depth.get(a, 0) for a in accts.tolist()], pa.int32()),
        },
        schema=_POS_SCHEMA,
    )
    accts = accts.tolist()
    held = held.tolist()

    src_rows = run.src
    sp = np.array([s[0] for s in src_rows], dtype=np.int64)
    has = sp >= 0
    g_src = np.where(has, sc.pos[np.where(has, sp, 0)] if len(sp) else sp, 0)
    sbase = ix.rows(g_src)
    mask = pa.array(~has) if len(sp) else None
    src_table = pa.Table.from_pydict(
        {
            "source": pa.array([tags[s[2]] for s in src_rows], pa.string()),
            "txn_id": pc.if_else(mask, pa.scalar(None, pa.string()), sbase["txn_id"]) if len(sp) else pa.array([], pa.string()),
            "timestamp": pc.if_else(mask, pa.scalar(start_us, schema.TIMESTAMP), sbase["timestamp"])
            if len(sp)
            else pa.array([], schema.TIMESTAMP),
            "from_account": pc.if_else(mask, pa.scalar(None, pa.string()), sbase["from_account"])
            if len(sp)
            else pa.array([], pa.string()),
            "account": ix.names(np.array([s[1] for s in src_rows], dtype=np.int64)),
            "amount": schema.from_cents([s[3] for s in src_rows]),
            "currency": pa.array([cur] * len(src_rows), pa.string()),
            "source_ref": pc.if_else(mask, pa.scalar(None, pa.string()), sbase["source_ref"])
            if len(sp)
            else pa.array([], pa.string()),
        },
        schema=_SRC_SCHEMA,
    )

    reasons = sorted(run.exits)
    exit_table = pa.Table.from_pydict(
        {
            "currency": pa.array([cur] * len(reasons), pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "tainted_amount": schema.from_cents([run.exits[r][0] for r in reasons]),
            "transactions": pa.array([run.exits[r][1] for r in reasons], pa.int64()),
        },
        schema=_EXIT_SCHEMA,
    )
    created = sum(s[3] for s in src_rows)
    exited = sum(v[0] for v in run.exits.values())
    kept = sum(held)
    if created != kept + exited:  # pragma: no cover - would be a bug in the engine
        raise AssertionError("taint not conserved: created != held + exited")
    totals = pa.Table.from_pydict(
        {"currency": [cur], "tainted": schema.from_cents([created]), "held": schema.from_cents([kept]), "exited": schema.from_cents([exited])},
        schema=_TOTAL_SCHEMA,
    )

    hop_src = pos_src = None
    if record_tags:
        rows = run.hop_tags
        hop_src = pa.Table.from_pydict(
            {
                "txn_id": hop_table["txn_id"].take(pa.array([r[0] for r in rows], pa.int64())),
                "source": pa.array([tags[r[1]] for r in rows], pa.string()),
                "tainted_amount": schema.from_cents([r[2] for r in rows]),
                "currency": pa.array([cur] * len(rows), pa.string()),
            },
            schema=_TAGS_SCHEMA["hop"],
        )
        prow = [(a, g, v) for a in accts for g, v in sorted(run.by_tag.get(a, {}).items()) if v]
        pos_src = pa.Table.from_pydict(
            {
                "account": ix.names(np.array([r[0] for r in prow], dtype=np.int64)),
                "source": pa.array([tags[r[1]] for r in prow], pa.string()),
                "tainted_balance": schema.from_cents([r[2] for r in prow]),
                "currency": pa.array([cur] * len(prow), pa.string()),
            },
            schema=_TAGS_SCHEMA["pos"],
        )
    return hop_table, pos_table, src_table, exit_table, totals, hop_src, pos_src


def _ledger_table(sc: _Scope, run: _Run, start_us: int) -> pa.Table:
    rows = run.ledger
    lp = np.array([r[0] for r in rows], dtype=np.int64)
    has = lp >= 0
    gp = np.where(has, sc.pos[np.where(has, lp, 0)], 0) if len(lp) else lp
    base = sc.ix.rows(gp)
    mask = pa.array(~has)
    return pa.Table.from_pydict(
        {
            "seq": pa.array(np.arange(len(rows)), pa.int64()),
            "txn_id": pc.if_else(mask, pa.scalar(None, pa.string()), base["txn_id"]),
            "timestamp": pc.if_else(mask, pa.scalar(start_us, schema.TIMESTAMP), base["timestamp"]),
            "account": sc.ix.names(np.array([r[1] for r in rows], dtype=np.int64)),
            "side": pa.array([r[2] for r in rows], pa.string()),
            "tainted_balance": schema.from_cents([r[3] for r in rows]),
            "balance": schema.from_cents([r[4] for r in rows]),
            "currency": pa.array([sc.currency] * len(rows), pa.string()),
        },
        schema=_LEDGER_SCHEMA,
    )


def _concat(parts: list, schema_: pa.Schema | None = None) -> pa.Table | None:
    parts = [p for p in parts if p is not None]
    if not parts:
        return schema_.empty_table() if schema_ is not None else None
    return pa.concat_tables(parts, promote_options="default")


def _assumption_lines(sc: _Scope, run: _Run, start: int, end: int) -> list[str]:
    """Opening-balance and top-up assumptions for the accounts this trace touched."""
    out = []
    touched = sorted(run.visited)
    unknown = [a for a in touched if a not in sc.known_opening]
    positive = [a for a in unknown if sc.opening[a] > 0]
    cur = sc.currency
    if unknown:
        out.append(
            f"{cur}: the opening balance of {len(unknown)} traced account(s) is not in the data; each is taken to be "
            "the smallest that keeps its balance from going below zero (clean funds, held before the first record)"
            + (f"; {len(positive)} of them needed one above zero" if positive else "")
            + "."
        )
    if sc.known_opening:
        out.append(f"{cur}: opening balances were given for {len(sc.known_opening)} account(s).")
    if len(sc.topped_up):
        tp = sc.topped_up[(sc.topped_up >= start) & (sc.topped_up <= end)]
        tp = [p for p in tp.tolist() if int(sc.frm[p]) in run.visited]
        if tp:
            total = int(sc.topup[tp].sum())
            out.append(
                f"{cur}: in {len(tp)} payment(s) a traced account with a given opening balance paid out more than it "
                f"held; the shortfall ({_fmt(cur, total)} in all) is taken as clean money from outside the data."
            )
    for a, off in sorted(run.offsets.items()):
        out.append(
            f"{cur}: the tainted amount exceeds the source account's balance in the data by {_fmt(cur, off)}; "
            "its opening balance is taken to be that much higher."
        )
    return out


def _skipped_lines(ix: TraceIndex, sc: _Scope, visited: set, t0: int, t1: int) -> list[str]:
    if not visited:
        return []
    in_scope = np.zeros(ix.n, dtype=bool)
    in_scope[sc.pos] = True
    v = np.zeros(len(ix.accounts) + 1, dtype=bool)
    v[np.fromiter(visited, dtype=np.int64)] = True
    touch = v[ix.frm] | v[ix.to]  # -1 indexes the spare last slot (False)
    win = (ix.t >= t0) & (ix.t <= t1)
    skip = touch & win & ~in_scope
    if not skip.any():
        return []
    codes, counts = np.unique(ix.cur[skip], return_counts=True)
    what = ", ".join(f"{ix.currencies[c]}: {n}" for c, n in zip(codes.tolist(), counts.tolist()))
    if sc.rate is not None:
        return [
            f"{sc.currency}: {int(skip.sum())} transaction(s) of traced accounts in other currencies were not "
            f"followed ({what}): no rate for them in the rate table."
        ]
    return [
        f"{sc.currency}: {int(skip.sum())} transaction(s) of traced accounts in other currencies were not "
        f"followed in this trace ({what}): currencies are traced separately and never added."
    ]


def _sort_positions(t: pa.Table) -> pa.Table:
    if t.num_rows < 2:
        return t
    return t.take(
        pc.sort_indices(
            t, sort_keys=[("currency", "ascending"), ("tainted_balance", "descending"), ("account", "ascending")]
        )
    )
