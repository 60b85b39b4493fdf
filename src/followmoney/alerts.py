"""Scoring: run the typology rules over a bundle and build the ranked, explained alert table."""

from __future__ import annotations

import hashlib
import json
import logging
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from followmoney import schema
from followmoney.bundle import Bundle
from followmoney.config import Config, get_config
from followmoney.ingest._collect import stable_id
from followmoney.rules import REGISTRY, RuleContext
from followmoney.rules._rolling import money_text, payroll

__all__ = ["score", "prepare_transactions", "SEVERITY_CUTS", "OPTIONAL_COLUMNS"]

log = logging.getLogger("followmoney")

#: Score cut-offs for severity: ``high`` at or above the first, ``medium`` the second.
SEVERITY_CUTS = (0.8, 0.5)


def severity(score: float) -> str:
    """``high``, ``medium`` or ``low`` for a 0–1 alert score (:data:`SEVERITY_CUTS`)."""
    return "high" if score >= SEVERITY_CUTS[0] else "medium" if score >= SEVERITY_CUTS[1] else "low"


#: Optional transaction columns passed through to rules when the source has them.
OPTIONAL_COLUMNS = (
    "from_party",
    "to_party",
    "description",
    "counterparty_name",
    "merchant_category",
    "country_from",
    "country_to",
    "location_id",
    "location_region",
    "conductor_party",
    "is_payroll",
    "route_countries",
)


def prepare_transactions(transactions: pa.Table, timezone: str = "UTC", accounts: pa.Table | None = None) -> pd.DataFrame:
    """The frame rules run on: one row per transaction with a timestamp, in (t, txn_id) order.

    Parameters
    ----------
    transactions : pyarrow.Table
        Canonical ``transactions`` table (extra columns such as ``location_id``,
        ``conductor_party`` or ``is_payroll`` are passed through when present).
    timezone : str, default "UTC"
        IANA zone for local clock time where the source states no UTC offset
        (the jurisdiction's zone, for night-time rules).
    accounts : pyarrow.Table, optional
        Canonical ``accounts``: adds ``from_institution`` / ``to_institution``.

    Returns
    -------
    pandas.DataFrame
        Columns ``txn_id``, ``t`` (int64 µs since the epoch, UTC), ``local_hour``
        (0–23) and ``local_day`` (days since 1970-01-01) on the local clock: the
        source's stated UTC offset, else ``timezone``,
        ``amount_cents`` (nullable Int64 hundredths of ``currency``; null for
        negative or invalid amounts, which are excluded from sums), ``currency``,
        ``from_account``, ``to_account``, ``sender`` / ``receiver`` (account, else
        party), ``channel``, ``self_transfer`` (bool), ``payroll`` (bool, wage payments:
        :func:`followmoney.rules._rolling.payroll`), ``source_ref``, and those of
        :data:`OPTIONAL_COLUMNS` the table has, and ``from_institution`` /
        ``to_institution`` when ``accounts`` is given. Rows without a timestamp cannot be
        placed in a window and are left out (they stay in the transactions table).
    """
    tx = transactions.filter(pc.is_valid(transactions["timestamp"]))
    cents = schema.to_cents(tx["amount"])
    cents = pc.if_else(pc.less(cents, 0), pa.scalar(None, pa.int64()), cents)
    flagged_self = schema.has_flag(tx["quality_flags"], "self_transfer")
    same = pc.fill_null(pc.equal(tx["from_account"], tx["to_account"]), False)
    cols = {
        "txn_id": tx["txn_id"],
        "t": tx["timestamp"].cast(pa.int64()),
        "amount_cents": cents,
        "currency": tx["currency"],
        "from_account": tx["from_account"],
        "to_account": tx["to_account"],
        "sender": pc.coalesce(tx["from_account"], tx["from_party"]),
        "receiver": pc.coalesce(tx["to_account"], tx["to_party"]),
        "channel": tx["channel"],
        "self_transfer": pc.or_(flagged_self, same),
        "source_ref": tx["source_ref"],
        "tz_offset_minutes": tx["tz_offset_minutes"],
    }
    for c in OPTIONAL_COLUMNS:
        if c in tx.column_names and c not in cols:
            cols[c] = tx[c]
    frame = pa.table(cols).sort_by([("t", "ascending"), ("txn_id", "ascending")])
    df = frame.to_pandas()
    df["amount_cents"] = df["amount_cents"].astype("Int64")
    utc = pd.to_datetime(df["t"], unit="us", utc=True)
    offset = df.pop("tz_offset_minutes")
    zone_wall = utc.dt.tz_convert(timezone).dt.tz_localize(None)
    stated_wall = utc.dt.tz_localize(None) + pd.to_timedelta(offset.fillna(0).astype("int64"), unit="min")
    wall = stated_wall.where(offset.notna(), zone_wall)
    df["payroll"] = payroll(df).to_numpy(bool)
    df["local_hour"] = wall.dt.hour.astype("int64")
    df["local_day"] = wall.to_numpy().astype("datetime64[D]").astype("int64")
    if accounts is not None and accounts.num_rows:
        inst = pd.Series(accounts["institution"].to_numpy(zero_copy_only=False), index=accounts["account_id"].to_numpy(zero_copy_only=False))
        inst = inst[~inst.index.duplicated()]
        df["from_institution"] = df["from_account"].map(inst)
        df["to_institution"] = df["to_account"].map(inst)
    return df


def _fmt_totals(pairs: list[tuple[str, int]]) -> str:
    if not pairs:
        return "no valid amounts"
    return ", ".join(money_text(v, c) for c, v in pairs)


def score(bundle: Bundle, config: Config | None = None, *, rules: list[str] | None = None, progress: bool | None = None) -> pa.Table:
    """Run the typology rules and return the alerts, most suspicious first.

    Parameters
    ----------
    bundle : Bundle
        Reads ``transactions`` (``txn_id, timestamp, amount, currency, from_account,
        to_account, from_party, to_party, channel, quality_flags, source_ref``).
    config : Config, optional
        Jurisdiction and rule parameters; default: :func:`followmoney.get_config`.
    rules : list of str, optional
        Rule ids to run; default all in :data:`followmoney.rules.REGISTRY` that the
        configuration does not disable.
    progress : bool, optional
        Show a progress bar over rules (tqdm; works in Jupyter); default: only on a
        terminal.

    Returns
    -------
    pyarrow.Table
        The ``alerts`` schema (with ``evidence_source_refs``: file:line or file#XPath
        of each evidence transaction; ``subject_role`` and ``related_subject_ids``
        where the pattern shows a controller or potential victim). Sorted by ``score`` descending, then
        ``window_start`` and ``alert_id``. Amount totals are per currency and never
        add different currencies: ``amount_total`` is null when the evidence mixes
        currencies (the explanation lists each).

    Raises
    ------
    followmoney.rules.ParameterError
        If a configured rule parameter is unknown or out of range.
    KeyError
        If ``rules`` names an unknown rule.

    Examples
    --------
    >>> import followmoney as fm
    >>> alerts = score(fm.read(fm.sample_data_path() / "goaml"), fm.Config(jurisdiction="AE"))
    >>> row = alerts.slice(0, 1).to_pylist()[0]
    >>> row["rule_id"], 0 < row["score"] <= 1, row["evidence_source_refs"][0].startswith("str_2026_001.xml#")
    ('HT-11', True, True)
    """
    cfg = config if config is not None else get_config()
    ids = rules if rules is not None else [r for r in REGISTRY if r not in cfg.disabled_rules]
    frame = prepare_transactions(bundle.transactions, cfg.jurisdiction_info.timezone, bundle.accounts)
    run_id = _run_id(bundle, cfg)
    by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
    shared: dict = {}  # computed once per run, used by several rules
    out = []
    for rule_id in tqdm(ids, desc="scoring", unit="rule", disable=None if progress is None else not progress, leave=False):
        rule = REGISTRY[rule_id]
        params = rule.resolve_params(cfg.rule_params(rule_id))
        missing = rule.missing_columns(frame)
        if missing:
            log.info("rule %s skipped: no data in column(s) %s", rule_id, ", ".join(missing))
            continue
        findings = rule.func(frame, RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=bundle, config=cfg, shared=shared))
        if findings is None or findings.empty:
            continue
        out.append(_alerts_for(rule, params, cfg, findings, by_txn, run_id))
    result_schema = schema.SCHEMAS["alerts"]
    if not out:
        return result_schema.empty_table()
    table = pa.Table.from_pandas(pd.concat(out, ignore_index=True), schema=result_schema, preserve_index=False)
    return table.sort_by([("score", "descending"), ("window_start", "ascending"), ("alert_id", "ascending")])


def _run_id(bundle: Bundle, cfg: Config) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update("\x1f".join(bundle.transactions["txn_id"].to_pylist()).encode())
    h.update(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    return "RUN" + h.hexdigest()


def _alerts_for(rule, params, cfg, findings: pd.DataFrame, by_txn: pd.DataFrame, run_id: str) -> pd.DataFrame:
    f = findings.reset_index(drop=True)
    ev = f[["evidence_txn_ids"]].explode("evidence_txn_ids").rename(columns={"evidence_txn_ids": "txn_id"})
    ev = ev.join(by_txn, on="txn_id")
    ev["row"] = ev.index
    sums = ev.dropna(subset=["amount_cents"]).groupby(["row", "currency"], dropna=False)["amount_cents"].sum()
    totals: dict[int, list] = {}
    for (row, cur), v in sums.items():
        totals.setdefault(row, []).append((cur, int(v)))
    refs = ev.groupby("row")["source_ref"].agg(list)
    params_json = json.dumps({"jurisdiction": cfg.jurisdiction, **params}, sort_keys=True, default=str)
    records = []
    for i, r in f.iterrows():  # one row per alert, not per transaction
        start = pd.Timestamp(int(r["window_start"]), unit="us", tz="UTC")
        end = pd.Timestamp(int(r["window_end"]), unit="us", tz="UTC")
        tot = sorted(totals.get(i, []), key=lambda p: (p[0] is None, p[0]))
        n_ev = len(r["evidence_txn_ids"])
        facts = {
            **r["facts"],
            "subject_id": r["subject_id"],
            "window_start": start,
            "window_end": end,
            "evidence_count": n_ev,
            "totals": _fmt_totals(tot),
        }
        score_ = float(r["score"])
        records.append(
            {
                "alert_id": stable_id("A", rule.id, r["subject_kind"], r["subject_id"], int(r["window_start"]), int(r["window_end"])),
                "rule_id": rule.id,
                "rule_name": rule.name,
                "typology": rule.typology,
                "subject_kind": r["subject_kind"],
                "subject_id": r["subject_id"],
                "score": score_,
                "severity": severity(score_),
                "window_start": start,
                "window_end": end,
                "amount_total": Decimal(tot[0][1]) / 100 if len(tot) == 1 else None,
                "currency": tot[0][0] if len(tot) == 1 else None,
                "evidence_count": n_ev,
                "evidence_txn_ids": list(r["evidence_txn_ids"]),
                "explanation": rule.explain(facts, params, cfg.jurisdiction_info),
                "params": params_json,
                "run_id": run_id,
                "evidence_source_refs": refs.get(i, []),
                "subject_role": r.get("role"),
                "related_subject_ids": list(r.get("related_subjects") or []),
            }
        )
    out = pd.DataFrame.from_records(records)
    dup = out["alert_id"].duplicated(keep=False)
    if dup.any():  # same rule, subject and window from two findings: tell them apart by evidence
        out.loc[dup, "alert_id"] = [
            stable_id("A", a, *ev) for a, ev in zip(out.loc[dup, "alert_id"], out.loc[dup, "evidence_txn_ids"])
        ]
    return out
