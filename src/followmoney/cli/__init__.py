"""Command line: click commands only; the run itself is :mod:`followmoney.pipeline`.

Exit codes (:data:`followmoney.pipeline.EXIT_CODES`): 0 complete; 1 internal error (a
bug; ``-v`` shows the traceback); 2 an input file, table or run folder cannot be used
(one line on stderr naming the file and place); 3 invalid configuration, rule id or
parameter; 4 complete but some rules, models or files failed (named on stderr and in
``summary.json``); 5 an optional extra the command needs is not installed (nothing is
written).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import warnings
from pathlib import Path

import click

# Only the light modules load here, so that `followmoney --help` costs little more than
# pyarrow (bench_import); each command imports the stages it runs.
from followmoney.cli._share import share as share_commands
from followmoney.core.choices import EXCEL_MAX_CASES, EXIT_CODES, EXPORT_FORMATS, INPUT_FORMATS, TRACE_METHODS
from followmoney.exceptions import FollowMoneyError

__all__ = ["main"]


def _print_summary(s: dict) -> None:
    click.echo(f"Read {len(s['inputs'])} file(s) in {s['seconds']} s.")
    click.echo(f"  {'table':<15}{'read':>10}{'written':>10}{'merged':>10}{'rejected':>10}")
    for name, c in s["tables"].items():
        click.echo(f"  {name:<15}{c['records_read']:>10}{c['rows_written']:>10}{c['merged']:>10}{c['rejected']:>10}")
    click.echo(f"Rejects: {s['rejects']}")
    click.echo(f"Alerts: {s['alerts']} (jurisdiction {s['config']['jurisdiction']})")
    for rule, n in s["alerts_per_rule"].items():
        click.echo(f"  {rule}: {n}")
    if s["alerts_suppressed_as_repeats"] or s["alerts_updated"]:
        click.echo(f"  repeats of the previous run suppressed: {s['alerts_suppressed_as_repeats']}; updates: {s['alerts_updated']}")
    click.echo(f"Cases: {s['cases']}  " + ", ".join(f"{b} {n}" for b, n in s["cases_per_band"].items()))
    click.echo("  by role: " + ", ".join(f"{r} {n}" for r, n in sorted(s["cases_per_role"].items())))
    o = s["outputs"]
    click.echo(f"Outputs: {o['cases_xlsx']}, {o['cases_csv']}, {o['alerts_csv']}, {o['tables']}/, {o['summary']}")


def _print_append(a: dict) -> None:
    click.echo(f"Store append {a['seq']}: records read {a['records_read']} = stored {a['stored']} + duplicates {a['duplicates']}"
               f" + merged {a['merged']} + rejected {a['rejected']}" + (f"; {a['late']} late (dated before the store's last time)" if a["late"] else ""))  # fmt: skip


def _print_store(st: dict) -> None:
    if st.get("append"):
        _print_append(st["append"])
    modes = ", ".join(f"{m} {len(r)}" for m, r in st["rules_by_mode"].items())
    if st["mode"] == "incremental":
        click.echo(f"Incremental from {st['since']}: {st['new_rows']} new rows, {st['rows_read']} rows read of {st['rows']},"
                   f" {st['touched_subjects']} subjects touched; rules: {modes}; alerts carried over {st['alerts_carried']},"
                   f" recomputed {st['alerts_recomputed']}")  # fmt: skip
    else:
        click.echo(f"Full run over the store ({st['rows']} rows)" + (f": {st['reason']}" if st.get("reason") else ""))
    click.echo(f"High-water mark: {st['high_water_mark']}")


def _fail(code: int, message: str):
    click.echo(f"followmoney: error: {message}", err=True)
    sys.exit(code)


class _Guard:
    """Turns every exception of a command into one line on stderr and its exit code.

    Expected failures (:class:`followmoney.exceptions.FollowMoneyError`, unreadable or
    full disks) print their message, which names the file and place and never data.
    Anything else is a bug: its type is printed, and ``-v`` shows the traceback.
    """

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, (click.exceptions.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt)):
            return False
        ctx = click.get_current_context(silent=True)
        if ctx is not None and ctx.find_root().params.get("verbose"):
            traceback.print_exception(kind, exc, tb)
        from followmoney.pipeline import exit_code

        code = exit_code(exc)
        if isinstance(exc, FollowMoneyError):
            message = str(exc)
        elif code == EXIT_CODES["missing_extra"]:
            message = str(exc)
        elif isinstance(exc, OSError):
            message = f"{exc.filename or 'output'}: {exc.strerror or type(exc).__name__}"
        elif code == EXIT_CODES["input"]:
            message = f"invalid input ({type(exc).__name__})"
        else:
            message = f"internal error ({type(exc).__name__}); run with -v for the traceback and please report it"
        _fail(code, message)


def _config(config_file, jurisdiction=None):
    """The run configuration (a :class:`~followmoney.core.config.Config`): the TOML file (else the defaults), with ``--jurisdiction`` on top."""
    from followmoney.core.config import Config

    cfg = Config.from_toml(config_file) if config_file else Config()
    if jurisdiction and jurisdiction.lower() == "auto":  # chosen from the goAML reports once read
        return cfg
    return Config(**{**cfg.to_dict(), "jurisdiction": jurisdiction}) if jurisdiction else cfg


def _since(value: str | None):
    """``--since`` as an aware datetime (UTC unless the text gives an offset)."""
    if value is None:
        return None
    from datetime import datetime, timezone

    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time (e.g. 2026-03-01 or 2026-03-01T06:00+01:00)", param_hint="--since") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def _score(paths, out, fmt, config_file, jurisdiction, quiet, previous=None, model=None, mappings=(), profile=None, aliases=None,
           excel_max_cases=EXCEL_MAX_CASES, engine="pandas", scheduler=None, workers=None, store=None, since=None, threads=1):
    if not paths and store is None:
        raise click.UsageError("give PATHS to score, or --store STORE")
    if since is not None and store is None:
        raise click.UsageError("--since goes with --store (an incremental run scores a store)")
    since = _since(since)
    with _Guard():
        if engine != "dask" and (scheduler or workers):
            raise click.UsageError("--scheduler and --workers go with --engine dask")
        if engine == "dask" and threads != 1:
            raise click.UsageError("--threads goes with --engine pandas (Dask's workers run one rule each)")
        if scheduler and workers:
            raise click.UsageError("--scheduler and --workers exclude each other (the cluster at ADDRESS has its workers)")
        from followmoney.pipeline import run_score

        cfg = _config(config_file, jurisdiction)
        read_options = {}
        if mappings:
            read_options["mapping"] = [str(m) for m in mappings]
        if profile:
            read_options["profile"] = str(profile)
        summary = run_score(
            list(paths), Path(out), fmt=fmt, cfg=cfg, progress=False if quiet else None, previous=previous, model=model,
            excel_max_cases=excel_max_cases or None,
            auto_jurisdiction=bool(jurisdiction) and jurisdiction.lower() == "auto",
            aliases=aliases, read_options=read_options,
            engine=engine, scheduler=scheduler, workers=workers, store=store, since=since, threads=threads,
        )  # fmt: skip
    if not quiet:
        _print_summary(summary)
        if "store" in summary:
            _print_store(summary["store"])
    for f in summary["failed_files"]:
        click.echo(f"followmoney: error: {f['error']}", err=True)
    for f in summary["failures"]:
        click.echo(f"followmoney: warning: {f['detector']} {f['id']} failed ({f['error']}); its alerts are missing", err=True)
    for n in summary.get("notes", []):
        click.echo(f"followmoney: note: {n['note']}", err=True)
    if summary["failed_files"]:
        sys.exit(EXIT_CODES["input"])
    if summary["failures"]:
        sys.exit(EXIT_CODES["complete_with_failures"])


@click.group()
@click.version_option(package_name="followmoney")
@click.option("-v", "--verbose", count=True, help="-v: log rule decisions and show tracebacks (no personal data is logged).")
def main(verbose: int) -> None:
    """followmoney: ingest FIU reports and transactions, score them for laundering and trafficking typologies."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        warnings.showwarning = _one_line_warning


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning of the run on one line, as its errors are (``-v`` shows Python's form, with the code line)."""
    click.echo(f"followmoney: warning: {message}", err=True)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--format", "fmt", default="auto", type=click.Choice(["auto", *INPUT_FORMATS]), show_default=True)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML configuration file.")
@click.option("--jurisdiction", help="Override the configuration's jurisdiction (e.g. AU, US, ID; 'auto': from the goAML reports' local currency).")
@click.option("--previous", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Output directory of the previous run: repeats without new evidence are not raised again"
                   " (with --store: the run to continue from; only what changed since its high-water mark is scored).")  # fmt: skip
@click.option("--store", type=click.Path(path_type=Path, file_okay=False),
              help="Date-partitioned Parquet store: PATHS (if any) are appended to it, and the store is scored.")  # fmt: skip
@click.option("--since", metavar="DATE", help="With --store: score incrementally, the rows at or after DATE (ISO 8601, UTC) being new.")
@click.option("--model", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Model from `followmoney train`: its alerts join the rules' alerts.")  # fmt: skip
@click.option("--mapping", "mappings", multiple=True, metavar="NAME|FILE",
              help="Bank CSV mapping profile (bundled name or TOML file); repeatable: each CSV takes the first that fits.")  # fmt: skip
@click.option("--profile", metavar="NAME|FILE", help="goAML code-list profile (uae, generic or a TOML file) for every goAML report.")
@click.option("--aliases", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Account alias file (TOML [accounts] or CSV raw,account_id) for bank-specific account conventions.")  # fmt: skip
@click.option("--excel-max-cases", type=click.IntRange(min=0), default=EXCEL_MAX_CASES, show_default=True,
              help="cases.xlsx holds this many cases of highest risk and their alerts (0: all); the CSV/Parquet files hold all.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary.")
@click.option("--engine", type=click.Choice(["pandas", "dask"]), default="pandas", show_default=True,
              help="dask: run the rules over account partitions on a Dask cluster (needs followmoney[dask]).")  # fmt: skip
@click.option("--scheduler", metavar="ADDRESS", help="With --engine dask: the Dask scheduler to use (e.g. tcp://host:8786).")
@click.option("--workers", type=click.IntRange(min=1), help="With --engine dask: start a local cluster of N worker processes.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="pandas engine: rules run at once on threads (2 on two cores: about 0.8 of the time, +15-20 % memory).")  # fmt: skip
def score(paths, out, fmt, config_file, jurisdiction, previous, store, since, model, mappings, profile, aliases, excel_max_cases, quiet, engine,
          scheduler, workers, threads):  # fmt: skip
    """Read PATHS (files, folders or globs), consolidate them into one picture, score them and write cases, alerts and tables to --out.

    Nightly: `score NEW_FILES --store STORE --previous LAST_RUN --out TONIGHT` appends the
    files to the store and scores only what they can change, merged with LAST_RUN's alerts.
    """
    _score(paths, out, fmt, config_file, jurisdiction, quiet, previous, model, mappings, profile, aliases, excel_max_cases, engine, scheduler,
           workers, store, since, threads)  # fmt: skip


@main.group()
def store() -> None:
    """A date-partitioned Parquet store of canonical transactions, for incremental nightly runs."""


@store.command("append")
@click.argument("store_dir", metavar="STORE", type=click.Path(path_type=Path, file_okay=False))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="auto", type=click.Choice(["auto", *INPUT_FORMATS]), show_default=True)
@click.option("--mapping", "mappings", multiple=True, metavar="NAME|FILE", help="Bank CSV mapping profile, as for score.")
@click.option("--aliases", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="Account alias file, as for score.")
@click.option("-q", "--quiet", is_flag=True)
def store_append(store_dir, paths, fmt, mappings, aliases, quiet):
    """Read PATHS, consolidate them and append them to STORE (created if missing); a transaction already stored is not stored again."""
    from followmoney.pipeline import append_files

    with _Guard():
        entry = append_files(list(paths), store_dir, fmt=fmt, aliases=aliases, progress=False if quiet else None,
                             read_options={"mapping": [str(m) for m in mappings]} if mappings else None)  # fmt: skip
    if not quiet:
        _print_append(entry)
    for f in entry["failed_files"]:
        click.echo(f"followmoney: error: {f['error']}", err=True)
    if entry["failed_files"]:
        sys.exit(EXIT_CODES["input"])


@main.command()
@click.option("--out", default="demo_output", show_default=True, type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True)
@click.option("--multisource", is_flag=True,
              help="Instead: write a synthetic multi-source case (STRs, camt.053, MT940, bank CSV) beside --out and score it.")  # fmt: skip
def demo(out, quiet, multisource):
    """Score the bundled sample data (AMLSim slice and synthetic goAML reports), or a multi-source case."""
    if multisource:
        from followmoney.datasets import make_multisource

        world = make_multisource(Path(out).parent / f"{Path(out).name}_sources", seed=1, n_workers=6, n_months=2)
        if not quiet:
            click.echo(f"Scoring a synthetic multi-source case: {len(world.files)} files, {len(world.payments)} real payments")
        _score(world.files, out, "auto", None, "MY", quiet)
        return
    from followmoney.datasets import sample_data_path

    data = sample_data_path()
    if not quiet:
        click.echo(f"Scoring the bundled sample data in {data}")
    _score([data / "amlsim" / "transactions.csv", data / "goaml"], out, "auto", data / "demo.toml", None, quiet)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="Baseline TOML configuration.")
@click.option("--set", "settings", multiple=True, metavar="RULE.PARAM=VALUE",
              help="Changed parameter for the second run, e.g. ML-05.min_counterparties=8 (repeatable).")  # fmt: skip
@click.option("--rule", "rules", multiple=True, metavar="RULE", help="Run only these rules (repeatable); default all.")
@click.option("--since", help="Start of the past window (ISO date/time, UTC unless a zone is given).")
@click.option("--until", help="End of the past window, exclusive.")
@click.option("--truth", "truth_file", type=click.Path(path_type=Path),
              help="Ground-truth table (Parquet/CSV, e.g. from followmoney.datasets.synth); default: the data's own labels, if any.")  # fmt: skip
@click.option("--format", "fmt", default="auto", type=click.Choice(["auto", *INPUT_FORMATS]), show_default=True)
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Also write the results as JSON here.")
def backtest(paths, config_file, settings, rules, since, until, truth_file, fmt, json_out):
    """Re-run the rules over a past window with changed parameters and report what would have fired.

    PATHS are source files (as for `score`) or one bundle directory written by
    followmoney.write_bundle. Prints, per rule, the alerts of the baseline and of the
    changed run, the subjects alerted in only one of them, and with ground truth the
    recall, subject precision, transaction F1 and alerts per 1,000 accounts of each.
    """
    from followmoney.evaluate import backtest as run_backtest
    from followmoney.evaluate import load_bundle, parse_overrides, read_truth, truth_from_labels
    import pyarrow.compute as pc

    with _Guard():
        cfg = _config(config_file)
        changes = parse_overrides(settings)
        bundle = load_bundle(list(paths), fmt)
        if truth_file:
            truth = read_truth(truth_file)
        else:
            tx = bundle.transactions
            labelled = pc.any(pc.fill_null(tx["is_laundering"], False)).as_py() or tx["label_alert_id"].null_count < len(tx)
            truth = truth_from_labels(bundle) if labelled else None
        result = run_backtest(bundle, changes, config=cfg, rules=list(rules) or None, since=since, until=until, truth=truth)
    click.echo(result.report())
    if truth is None:
        click.echo("No ground truth (no --truth and no labels in the data): metrics not computed.")
    if json_out:
        Path(json_out).write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n", "utf-8")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--from", "from_account", help="Trace forward from this account (the source of the taint).")
@click.option("--txn", "txn_ids", multiple=True, help="Trace forward from this tainted transaction id (repeatable).")
@click.option("--to", "to_account", help="Trace backward: which origins funded this account's balance.")
@click.option("--since", help="ISO time (UTC unless an offset is given): when the source is tainted; start of the window.")
@click.option("--until", help="ISO time: end of the window (forward); the balance date (backward).")
@click.option("--amount", help="Tainted amount in --from at --since. Default: all it holds then and receives later.")
@click.option("--method", type=click.Choice(TRACE_METHODS), default="fifo", show_default=True,
              help="Allocation rule.")  # fmt: skip
@click.option("--hops", type=click.IntRange(min=1), help="Hop limit (default: none).")
@click.option("--min-amount", help="Do not follow payments carrying less taint than this.")
@click.option("--currency", help="ISO 4217 code to trace (default: the source's).")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1), help="Destinations to print.")
@click.option("--format", "fmt", default="auto", show_default=True, help="Input format (as for score).")
@click.option("--out", type=click.Path(path_type=Path), help="Write hops, positions, sources, exits (CSV + Parquet), summary.txt.")
@click.option("--plot", "plot_file", type=click.Path(path_type=Path), help="Save the flow diagram (.png, .pdf, .svg).")
def trace(paths, from_account, txn_ids, to_account, since, until, amount, method, hops, min_amount, currency, top,
          fmt, out, plot_file):  # fmt: skip
    """Follow tainted money in PATHS forward (--from ACCOUNT or --txn ID) or backward (--to ACCOUNT).

    PATHS are source files (as for `score`) or one run folder of `followmoney score`.
    Prints a plain-words summary for the case file and the top destinations (forward) or
    origins (backward). Example: followmoney trace data.csv --from bank/123 --since 2024-01-01 --method libr
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from followmoney import trace as tracing
    from followmoney.pipeline import flat, read_or_load

    if sum(map(bool, (from_account, txn_ids, to_account))) != 1:
        raise click.UsageError("give exactly one of --from, --txn or --to")
    with _Guard():
        bundle = read_or_load(paths, fmt)
        if to_account:
            result = tracing.backward(bundle, to_account, at=until, since=since, method=method, hops=hops,
                                      currency=currency)  # fmt: skip
        else:
            result = tracing.forward(bundle, from_account or list(txn_ids), amount=amount, since=since, until=until,
                                     method=method, hops=hops, min_amount=min_amount, currency=currency)  # fmt: skip
    click.echo(result.summary(top=0))
    top_rows = result.top_destinations(top).to_pylist()
    if result.direction == "forward":
        click.echo(f"Top destinations ({len(top_rows)} of {result.positions.num_rows}):")
        click.echo(f"  {'account':<28}{'tainted':>18}{'share':>9}{'balance':>18}{'hop':>5}")
        for r in top_rows:
            click.echo(f"  {r['account']:<28}{r['currency'] + ' ' + format(r['tainted_balance'], ',.2f'):>18}"
                       f"{r['share']:>9.1%}{format(r['balance'], ',.2f'):>18}{r['depth']:>5}")  # fmt: skip
    else:
        click.echo(f"Top origins ({len(top_rows)} of {result.funding.num_rows}):")
        click.echo(f"  {'origin':<36}{'kind':<11}{'amount':>18}{'share':>9}")
        for r in top_rows:
            click.echo(f"  {r['origin']:<36}{r['kind']:<11}{r['currency'] + ' ' + format(r['amount'], ',.2f'):>18}"
                       f"{r['share']:>9.1%}")  # fmt: skip
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        tables = {"hops": result.hops, "positions": result.positions, "sources": result.sources, "exits": result.exits}
        if result.funding is not None:
            tables["funding"] = result.funding
        for name, table in tables.items():
            pq.write_table(table, out / f"{name}.parquet")
            pacsv.write_csv(flat(table), out / f"{name}.csv")
        (out / "summary.txt").write_text(result.summary() + "\n", "utf-8")
        click.echo(f"Outputs: {', '.join(f'{n}.csv/.parquet' for n in tables)}, summary.txt in {out}")
    if plot_file:
        import matplotlib

        matplotlib.use("Agg")
        result.plot().figure_.savefig(plot_file, dpi=120, bbox_inches="tight")
        click.echo(f"Flow diagram: {plot_file}")


@main.command("rules")
@click.argument("rule_ids", nargs=-1, metavar="[RULE_ID]...")
def rules_command(rule_ids):
    """List the typology rules (id, typology, name), or describe RULE_IDs.

    A description says what the rule looks for, its sources, and each parameter with its
    unit, default and range. The text is the rule catalogue's (docs/rules.md is generated
    from it); set parameters in the configuration's [rules."ID"] tables.
    """
    from followmoney.detect.rules import REGISTRY
    from followmoney.detect.rules.catalogue import CATALOGUE, describe
    from followmoney.exceptions import ConfigError

    with _Guard():
        unknown = [r for r in rule_ids if r not in REGISTRY]
        if unknown:
            raise ConfigError(f"unknown rule id(s) {', '.join(map(repr, unknown))}; `followmoney rules` lists them")
    if rule_ids:
        click.echo("\n\n".join(describe(REGISTRY[r]) for r in rule_ids))
        return
    for rule_id in [*(r for r in CATALOGUE if r in REGISTRY), *(r for r in REGISTRY if r not in CATALOGUE)]:
        rule = REGISTRY[rule_id]
        click.echo(f"{rule.id:<7}{rule.typology:<24}{rule.name}")


@main.command()
@click.argument("subject")
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Output directory of `followmoney score` (tables, alerts, summary).")  # fmt: skip
@click.option("--out", required=True, type=click.Path(path_type=Path), help="HTML file to write.")
@click.option("--method", default="libr", show_default=True, type=click.Choice(TRACE_METHODS),
              help="Allocation rule for the trace of the subject's funds.")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def report(subject, run_dir, out, method, force):
    """Write the evidence pack of SUBJECT as one self-contained HTML file.

    SUBJECT is a case id (first column of cases.xlsx), a subject id, an account id
    (any letter case), account number or IBAN, or a name as the reports spell it.
    """
    from followmoney.pipeline import load_run
    from followmoney.view.report import write_evidence_pack

    with _Guard():
        bundle, alerts, summary = load_run(run_dir)
        path = write_evidence_pack(out, bundle, alerts, subject, summary=summary, trace_method=method, force=force)
    click.echo(f"Evidence pack written to {path}")


@main.command()
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Output directory of `followmoney score`.")  # fmt: skip
@click.option("--to", "fmt", required=True, type=click.Choice(EXPORT_FORMATS),
              help="i2 Analyst's Notebook CSV (entities + links), GraphML / GEXF (Gephi), FollowTheMoney JSON lines.")  # fmt: skip
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder (i2) or file.")
@click.option("--case", "case_id", help="Only this case's neighbourhood (case id: first column of cases.xlsx).")
@click.option("--hops", default=1, show_default=True, type=click.IntRange(min=1), help="Payment hops around --case.")
def export(run_dir, fmt, out, case_id, hops):
    """Export a scored run (persons, accounts, identifiers and payments) for link-analysis tools."""
    from followmoney.pipeline import export_run

    with _Guard():
        result = export_run(run_dir, fmt, out, case_id=case_id, hops=hops)
    counts = result["counts"]
    written = ", ".join(str(p) for p in result["paths"].values())
    click.echo(f"{fmt} export written: {written} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model file to write (e.g. model.fmm).")
@click.option("--model", "kind", default="gbt", show_default=True, type=click.Choice(["gbt", "iforest"]),
              help="gbt: gradient-boosted trees learned from the is_laundering labels; iforest: unsupervised isolation forest.")  # fmt: skip
@click.option("--format", "fmt", default="auto", type=click.Choice(["auto", *INPUT_FORMATS]), show_default=True)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML configuration file (jurisdiction: local clock).")
@click.option("--jurisdiction", help="Override the configuration's jurisdiction.")
@click.option("--window-hours", type=click.FloatRange(min=0, min_open=True), help="Feature window in hours (default 240).")
@click.option("--pattern-window-hours", type=click.FloatRange(min=0, min_open=True),
              help="Window of scatter-gather and cycle patterns in hours (default 480).")  # fmt: skip
@click.option("--validation-fraction", default=0.2, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of the transactions, after the training period, on which the threshold is chosen.")  # fmt: skip
@click.option("--test-fraction", default=0.2, show_default=True, type=click.FloatRange(0, 1, max_open=True),
              help="Share of the latest transactions held out and only reported (0: none).")  # fmt: skip
@click.option("--random-state", default=0, show_default=True, type=int)
@click.option("-q", "--quiet", is_flag=True, help="No summary.")
def train(paths, out, kind, fmt, config_file, jurisdiction, window_hours, pattern_window_hours, validation_fraction,
          test_fraction, random_state, quiet):  # fmt: skip
    """Fit a scorer on labelled PATHS (e.g. AMLSim or IBM AML data) and save it to --out.

    The transactions are split in time order: a training period, a validation period
    (the alert threshold is chosen there by F1), and a held-out test period that is
    only reported. The model file keeps the scorer, its feature definitions and its
    training window; score new data with `followmoney score --model FILE`.
    """
    from followmoney.consolidate import read
    from followmoney.detect.models import train_model
    from followmoney.detect.features import FeatureSettings

    if validation_fraction + test_fraction >= 1:
        raise click.UsageError("--validation-fraction plus --test-fraction must be below 1")
    with _Guard():
        cfg = _config(config_file, jurisdiction)
        changes = {k: v for k, v in (("window_hours", window_hours), ("pattern_window_hours", pattern_window_hours)) if v}
        settings = FeatureSettings(**changes)
        bundle = read(list(paths), format=fmt, progress=False if quiet else None)
        fractions = (1 - validation_fraction - test_fraction, validation_fraction, test_fraction)
        model = train_model(bundle, kind=kind, settings=settings, fractions=fractions,
                            timezone=cfg.jurisdiction_info.timezone, random_state=random_state)  # fmt: skip
        path = model.save(out)
    if quiet:
        return
    m = model.metrics
    rows, pos = m["rows"], m["positives"]
    click.echo(f"Model {model.rule_id} ({kind}): trained on {rows['train']} transactions, threshold chosen on the next "
               f"{rows['validation']}; training window {model.training_window[0]} .. {model.training_window[1]}.")  # fmt: skip
    click.echo(f"  {'period':<12}{'rows':>10}{'laundering':>12}{'precision':>11}{'recall':>9}{'F1':>8}")
    for name in ("train", "validation", "test"):
        rep = m.get(name) if name != "train" else None
        cells = f"{rep['precision']:>11.3f}{rep['recall']:>9.3f}{rep['f1']:>8.3f}" if rep else f"{'':>11}{'':>9}{'':>8}"
        click.echo(f"  {name:<12}{rows[name]:>10}{pos[name]:>12}{cells}")
    click.echo(f"Alert threshold: {model.threshold:.4f} (score 0..1, higher is more suspicious)")
    click.echo(f"Model written to {path}; use: followmoney score --model {path} ...")


main.add_command(share_commands)  # followmoney share ... (FIU-to-FIU cooperation)

if __name__ == "__main__":  # pragma: no cover
    main()
