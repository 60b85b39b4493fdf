"""Command line: ``followmoney score | demo`` for nightly batch jobs.

Exit codes: 0 success; 2 unreadable or invalid input (one line on stderr naming the
file); 3 invalid configuration.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from followmoney import sample_data_path
from followmoney.alerts import score as score_bundle
from followmoney.config import Config, ConfigError
from followmoney.ingest import ADAPTERS, InputError, read
from followmoney.rules import ParameterError
from followmoney.schema import SchemaError
from followmoney.store import write_bundle

__all__ = ["main", "run_score"]


def run_score(paths, out: Path, *, fmt: str = "auto", cfg: Config | None = None, progress: bool | None = None) -> dict:
    """Read ``paths``, score them, and write the outputs under ``out``.

    Writes ``alerts.parquet``, ``alerts.csv`` (list columns joined with ``;``),
    ``tables/`` (the canonical tables as Parquet, see :func:`followmoney.write_bundle`)
    and ``summary.json``.

    Parameters
    ----------
    paths : list of str or Path
    out : Path
    fmt : str, default "auto"
    cfg : Config, optional
    progress : bool, optional

    Returns
    -------
    dict
        The summary written to ``summary.json``.

    Raises
    ------
    InputError, ConfigError, ParameterError
    """
    cfg = cfg or Config()
    t0 = time.perf_counter()
    bundle = read(paths, format=fmt, progress=progress)
    alerts = score_bundle(bundle, cfg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_bundle(bundle, out / "tables")
    pq.write_table(alerts, out / "alerts.parquet")
    flat = alerts
    for name in ("evidence_txn_ids", "evidence_source_refs", "related_subject_ids"):
        i = flat.column_names.index(name)
        flat = flat.set_column(i, name, pc.binary_join(flat[name], ";"))
    pacsv.write_csv(flat, out / "alerts.csv")
    log = bundle.load_log.group_by("table").aggregate(
        [("records_read", "sum"), ("rows_written", "sum"), ("merged", "sum"), ("rejected", "sum")]
    )
    per_rule = alerts.group_by("rule_id").aggregate([("alert_id", "count")]).sort_by("rule_id")
    summary = {
        "run_id": alerts["run_id"][0].as_py() if alerts.num_rows else None,
        "inputs": sorted(set(bundle.load_log["source_file"].to_pylist())),
        "config": cfg.to_dict(),
        "tables": {
            r["table"]: {
                "records_read": r["records_read_sum"],
                "rows_written": r["rows_written_sum"],
                "merged": r["merged_sum"],
                "rejected": r["rejected_sum"],
            }
            for r in log.to_pylist()
        },
        "rows": bundle.summary(),
        "rejects": bundle.rejects.num_rows,
        "alerts": alerts.num_rows,
        "alerts_per_rule": dict(zip(per_rule["rule_id"].to_pylist(), per_rule["alert_id_count"].to_pylist())),
        "outputs": {
            "alerts_parquet": str(out / "alerts.parquet"),
            "alerts_csv": str(out / "alerts.csv"),
            "tables": str(out / "tables"),
            "summary": str(out / "summary.json"),
        },
        "seconds": round(time.perf_counter() - t0, 3),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    return summary


def _print_summary(s: dict) -> None:
    click.echo(f"Read {len(s['inputs'])} file(s) in {s['seconds']} s.")
    click.echo(f"  {'table':<15}{'read':>10}{'written':>10}{'merged':>10}{'rejected':>10}")
    for name, c in s["tables"].items():
        click.echo(f"  {name:<15}{c['records_read']:>10}{c['rows_written']:>10}{c['merged']:>10}{c['rejected']:>10}")
    click.echo(f"Rejects: {s['rejects']}")
    click.echo(f"Alerts: {s['alerts']} (jurisdiction {s['config']['jurisdiction']})")
    for rule, n in s["alerts_per_rule"].items():
        click.echo(f"  {rule}: {n}")
    click.echo(f"Outputs: {s['outputs']['alerts_csv']}, {s['outputs']['alerts_parquet']}, {s['outputs']['tables']}/, {s['outputs']['summary']}")


def _fail(code: int, message: str):
    click.echo(f"followmoney: error: {message}", err=True)
    sys.exit(code)


def _score(paths, out, fmt, config_file, jurisdiction, quiet):
    try:
        cfg = Config.from_toml(config_file) if config_file else Config()
        if jurisdiction:
            cfg = Config(**{**cfg.to_dict(), "jurisdiction": jurisdiction})
        summary = run_score(list(paths), Path(out), fmt=fmt, cfg=cfg, progress=False if quiet else None)
    except (ConfigError, ParameterError) as exc:
        _fail(3, str(exc))
    except (InputError, SchemaError, pa.ArrowInvalid) as exc:
        _fail(2, str(exc))
    if not quiet:
        _print_summary(summary)


@click.group()
@click.version_option(package_name="followmoney")
@click.option("-v", "--verbose", is_flag=True, help="Log rule decisions (no personal data is logged).")
def main(verbose: bool) -> None:
    """followmoney: ingest FIU reports and transactions, score them for laundering and trafficking typologies."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--format", "fmt", default="auto", type=click.Choice(["auto", *ADAPTERS]), show_default=True)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML configuration file.")
@click.option("--jurisdiction", help="Override the configuration's jurisdiction (e.g. AU, US, ID).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary.")
def score(paths, out, fmt, config_file, jurisdiction, quiet):
    """Read PATHS (files, folders or globs), score them and write alerts and tables to --out."""
    _score(paths, out, fmt, config_file, jurisdiction, quiet)


@main.command()
@click.option("--out", default="demo_output", show_default=True, type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True)
def demo(out, quiet):
    """Score the bundled sample data (AMLSim slice and synthetic goAML reports)."""
    data = sample_data_path()
    if not quiet:
        click.echo(f"Scoring the bundled sample data in {data}")
    _score([data / "amlsim" / "transactions.csv", data / "goaml"], out, "auto", data / "demo.toml", None, quiet)


if __name__ == "__main__":  # pragma: no cover
    main()
