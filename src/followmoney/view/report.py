"""Evidence pack: one self-contained HTML file per subject for investigators and prosecutors.

The pack holds who the subject is (the name the reports give, the other spellings
seen, the ids, the accounts) and the reports and reporting entities that mention the
subject, the subject's case (role, risk, band), every alert with its plain-words
explanation and thresholds, what each rule that fired looks for and its sources (from
the rule catalogue, :mod:`followmoney.detect.rules.catalogue`), the evidence transactions with their source reference
(file and line, or file and XPath into the original report), the link chart around the
subject, the trace of its funds with a flow diagram, and what is needed to reproduce it:
the configuration, the run id, the followmoney version and the SHA-256 of every input
file. Images are embedded (PNG, base64) and the styles inline, so the file opens
anywhere, offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa

from followmoney.core.bundle import Bundle
from followmoney.detect.cases import build_cases
from followmoney.detect.rules import REGISTRY
from followmoney.core.config import Config
from followmoney._version import __version__
from followmoney.exceptions import RunError, UnknownSubjectError

__all__ = ["evidence_pack", "write_evidence_pack"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.5em 0} th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;white-space:nowrap} .band{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff}
.urgent{background:#b00020}.priority{background:#d35400}.review{background:#b7950b}.monitor{background:#607d8b}
.muted{color:#666;font-size:.85em} img{max-width:100%;border:1px solid #eee} code{font-size:.85em;word-break:break-all}
"""


def _esc(x) -> str:
    if x is None or (isinstance(x, float) and pd.isna(x)) or x is pd.NaT:
        return ""
    return html.escape(str(x))


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _table(df: pd.DataFrame, num: tuple = ()) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td class='num'>{_esc(v)}</td>" if c in num else f"<td>{_esc(v)}</td>" for c, v in row.items()) + "</tr>"
        for _, row in df.iterrows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rules_section(rule_ids) -> str:
    """What each rule among ``rule_ids`` looks for and its sources: the rule catalogue's text
    (through the registry, so rules of your own show theirs); model alerts have none."""
    rules = [REGISTRY[r] for r in dict.fromkeys(rule_ids) if r in REGISTRY]
    if not rules:
        return ""
    df = pd.DataFrame({
        "rule_id": [r.id for r in rules],
        "rule": [r.name for r in rules],
        "what it looks for": [r.description for r in rules],
        "sources": [r.source for r in rules],
    })  # fmt: skip
    return "<h3>The rules that fired</h3>" + _table(df)


def evidence_pack(
    bundle: Bundle,
    alerts: pa.Table,
    subject: str,
    *,
    config: Config | None = None,
    summary: dict | None = None,
    trace_method: str = "libr",
    max_evidence: int = 500,
) -> str:
    """Build the evidence pack of one subject as a self-contained HTML string.

    Parameters
    ----------
    bundle : Bundle
        The load the alerts were computed from.
    alerts : pyarrow.Table
        Alerts of the run (``followmoney.score`` output).
    subject : str
        What the analyst has: the case id, the subject id (account id, party id or
        identifier), an account number or IBAN, or a name in any spelling the reports
        use (see :func:`followmoney.view.subjects.find_subject`).
    config : Config, optional
        Configuration of the run, shown for reproduction (default: from ``summary``).
    summary : dict, optional
        ``summary.json`` of the run (inputs, config, run id).
    trace_method : {"fifo", "lifo", "pro_rata", "libr"}, default "libr"
        Allocation rule for the trace of an account subject's outgoing funds.
    max_evidence : int, default 500
        Evidence transactions listed (the count of the rest is stated).

    Returns
    -------
    str
        HTML document.

    Raises
    ------
    followmoney.exceptions.UnknownSubjectError
        If nothing in the run matches ``subject`` (the closest case ids are
        suggested), or a name matches several subjects.
    """
    from followmoney.names import display_names
    from followmoney.resolve import resolve
    from followmoney.view.plot import LinkChartDisplay, TimelineDisplay
    from followmoney.view.subjects import find_subject, subject_mentions

    res = resolve(bundle) if bundle.parties.num_rows else None
    names = display_names(bundle, res)
    cases = build_cases(alerts, bundle, resolution=res)
    subject = find_subject(subject, bundle, alerts, cases=cases, names=names, resolution=res)
    case = next(r for r in cases.to_pylist() if r["subject_id"] == subject)
    a = alerts.to_pandas()
    mine = a[a["subject_id"].isin(case["alert_subjects"] or [subject])]
    if mine.empty:  # pragma: no cover - find_subject returns case subjects, which have alerts
        raise UnknownSubjectError("no alert for subject in this run")
    tx = bundle.transactions.to_pandas()
    ev_ids = list(dict.fromkeys(t for ev in mine["evidence_txn_ids"] for t in ev))
    ev = tx[tx["txn_id"].isin(ev_ids)].sort_values(["timestamp", "txn_id"])
    shown = ev.head(max_evidence)
    title = names.name(subject)
    heading = f"{title} ({subject})" if title else subject
    parts = [
        f"<h1>Evidence pack: {_esc(heading)}</h1>",
        f"<p><span class='band {case['band']}'>{case['band']}</span> risk {case['risk_score']:.2f} · role "
        f"<b>{_esc(case['role'].replace('_', ' '))}</b> · {case['n_alerts']} alert(s) · {case['evidence_count']} evidence transaction(s)"
        + (" · <b>human trafficking indicators</b>" if case["human_trafficking"] else "")
        + "</p>",
        f"<p>{_esc(case['summary'].split(' Appears to control:')[0].split(' Likely controlled by:')[0])}</p>",
    ]
    parties, accounts = subject_mentions(bundle, subject, resolution=res)
    parts.append(_subject_section(bundle, subject, case, names, parties, accounts))
    parts.append(_reports_section(bundle, tx, parties, accounts))

    def named(ids):
        return ", ".join(names.with_id(i) for i in ids)

    if case["controls"]:
        parts.append(f"<p><b>Appears to control:</b> {_esc(named(case['controls']))}</p>")
    if case["controlled_by"]:
        parts.append(f"<p><b>Likely controlled by:</b> {_esc(named(case['controlled_by']))}</p>")
    parts.append("<h2>Alerts</h2>")
    parts.append(
        _table(
            mine[["rule_id", "rule_name", "score", "window_start", "window_end", "evidence_count", "explanation", "params"]]
            .assign(score=lambda d: d["score"].round(2)),
            num=("score", "evidence_count"),
        )
    )
    parts.append(_rules_section(mine["rule_id"]))
    parts.append("<h2>Link chart</h2>")
    account_ids = set(bundle.accounts["account_id"].to_pylist())
    focus = next((x for x in [*(case["alert_subjects"] or []), *(case["accounts"] or [])] if x in account_ids), subject)
    chart = LinkChartDisplay.from_bundle(bundle, focus, hops=2, max_nodes=40)  # a resolved person: around his main account
    parts.append(f"<img alt='link chart around {_esc(focus)}' src='{_png(chart.figure_)}'>")
    from followmoney.view.interactive import interactive_chart_html

    parts.append("<h2>Interactive link chart</h2><p class='muted'>Click a node to expand its neighbourhood; filter payments "
                 "by time window and amount. Colours: case band; outline: likely role.</p>")
    parts.append(interactive_chart_html(bundle, focus, resolution=res, names=names, cases=cases))
    parts.append("<h2>Timeline</h2>")
    timeline = TimelineDisplay.from_bundle(bundle, focus, alerts=alerts)
    parts.append(f"<img alt='timeline of {_esc(focus)}' src='{_png(timeline.figure_)}'>")
    parts.append(_trace_section(bundle, focus, trace_method))
    parts.append(f"<h2>Evidence transactions ({len(ev)})</h2>")
    shown = shown.assign(
        from_name=[names.name(p) or names.name(acc) for acc, p in zip(shown["from_account"], shown["from_party"])],
        to_name=[names.name(p) or names.name(acc) for acc, p in zip(shown["to_account"], shown["to_party"])],
    )
    cols = ["timestamp", "amount", "currency", "channel", "from_name", "from_account", "from_party", "to_name", "to_account",
            "to_party", "source_ref"]  # fmt: skip
    heads = {"from_name": "from (name)", "to_name": "to (name)", "source_ref": "source (file:line or file#XPath)"}
    parts.append(_table(shown[cols].rename(columns=heads), num=("amount",)))
    if len(ev) > max_evidence:
        parts.append(f"<p class='muted'>{len(ev) - max_evidence} more evidence transactions are in the alerts table.</p>")
    parts.append(_reproduce_section(bundle, mine, config, summary, __version__))
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>followmoney evidence pack: {_esc(heading)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + f"<p class='muted'>Generated {now} by followmoney {_esc(__version__)}.</p></body></html>"
    )


def _subject_section(bundle: Bundle, subject: str, case: dict, names, parties: set, accounts: set) -> str:
    """Who the subject is: name, other spellings, ids, accounts, mentions."""
    rows = [("Name", names.name(subject) or "not named in the reports"),
            ("Also written as", ", ".join(names.variants.get(subject, [])[1:]) or "none"),
            ("Subject id", subject), ("Case id", case["case_id"]),
            ("Party mentions in reports", str(len(parties)))]  # fmt: skip
    if accounts:
        rows.append(("Accounts", "; ".join(f"{names.label(a)} ({a})" if names.name(a) else a for a in sorted(accounts))))
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<h2>Subject</h2><table>{body}</table>"


def _reports_section(bundle: Bundle, tx: pd.DataFrame, parties: set, accounts: set) -> str:
    """The reports (STR, SAR, CTR, ...) and reporting entities that mention the subject."""
    p = bundle.parties.select(["party_id", "report_id"]).to_pandas()
    mentions = p[p["party_id"].isin(parties)].groupby("report_id").size()
    touching = tx[tx["from_account"].isin(accounts) | tx["to_account"].isin(accounts)
                  | tx["from_party"].isin(parties) | tx["to_party"].isin(parties)]  # fmt: skip
    txns = touching.groupby("report_id").size()
    reports = bundle.reports.to_pandas()
    reports = reports[reports["report_id"].isin(set(mentions.index) | set(txns.index))].copy()
    if reports.empty:
        return "<h2>Reports that mention the subject</h2><p class='muted'>No report in this run names the subject.</p>"
    reports["mentions"] = reports["report_id"].map(mentions).fillna(0).astype(int)
    reports["transactions"] = reports["report_id"].map(txns).fillna(0).astype(int)
    reports = reports.sort_values(["submitted_at", "report_id"], na_position="last")
    show = reports[["report_code", "reporting_entity", "entity_reference", "submitted_at", "source_file", "mentions", "transactions"]]
    show = show.rename(columns={"report_code": "report", "reporting_entity": "reporting entity", "entity_reference": "its reference",
                                "submitted_at": "submitted", "source_file": "file", "mentions": "names the subject (times)",
                                "transactions": "subject's transactions"})  # fmt: skip
    entities = sorted({str(x) for x in reports["reporting_entity"].dropna()})
    return (
        f"<h2>Reports that mention the subject ({len(reports)})</h2>"
        f"<p>Reporting entities: {_esc(', '.join(entities) or 'not given')}</p>"
        + _table(show, num=("names the subject (times)", "subject's transactions"))
    )


def _trace_section(bundle: Bundle, subject: str, method: str) -> str:
    from followmoney import trace
    from followmoney.view.plot import TraceFlowDisplay

    accounts = set(bundle.transactions["from_account"].to_pylist())
    if subject not in accounts:
        return "<h2>Trace of funds</h2><p class='muted'>The subject sends no transactions in this data: no trace.</p>"
    result = trace.forward(bundle, subject, method=method)
    flow = TraceFlowDisplay.from_trace(result)
    return (
        f"<h2>Trace of funds ({_esc(method.upper())})</h2><p>{_esc(result.summary())}</p>"
        f"<img alt='money flow from {_esc(subject)}' src='{_png(flow.figure_)}'>"
    )


def _reproduce_section(bundle: Bundle, mine: pd.DataFrame, config, summary, version) -> str:
    cfg = config.to_dict() if config is not None else (summary or {}).get("config", {})
    log = bundle.load_log.to_pandas()
    files = log.groupby(["source_file", "source"], as_index=False).agg(sha256=("sha256", "first"), records=("records_read", "sum"))
    run_ids = ", ".join(sorted(set(mine["run_id"])))
    return (
        "<h2>Reproduce</h2>"
        f"<p>followmoney {_esc(version)} · run {_esc(run_ids)}</p>"
        f"<p>Configuration:</p><pre><code>{_esc(json.dumps(cfg, indent=2, default=str))}</code></pre>"
        "<p>Input files:</p>" + _table(files, num=("records",))
    )


def write_evidence_pack(path: str | Path, bundle: Bundle, alerts: pa.Table, subject: str, *, force: bool = False, **kwargs) -> Path:
    """Write :func:`evidence_pack` to ``path`` (UTF-8) and return the path.

    Parameters
    ----------
    path : str or Path
    bundle, alerts, subject
        As for :func:`evidence_pack`.
    force : bool, default False
        Overwrite an existing file (a pack may already be in a case file).
    **kwargs
        Passed to :func:`evidence_pack`.

    Raises
    ------
    followmoney.exceptions.RunError
        If ``path`` exists and ``force`` is False (nothing is written).
    followmoney.exceptions.UnknownSubjectError
        As for :func:`evidence_pack`.
    """
    path = Path(path)
    if path.exists() and not force:
        raise RunError(f"{path}: already exists; pass --force (force=True) to overwrite it")
    html_text = evidence_pack(bundle, alerts, subject, **kwargs)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(path)
    return path
