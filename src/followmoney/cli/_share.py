"""``followmoney share ...``: keys, match-key exports, matching, disclosure packages.

Exit codes as for the other commands: 0 success, 2 unusable input (one line on stderr
naming the file). Nothing printed holds personal data: subjects are shown by id only
where they are one's own, partner subjects only by their random ref.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pyarrow as pa

# Light imports only (see followmoney.cli); each command loads what it runs.
from followmoney.exceptions import InputError, SchemaError, ShareError

__all__ = ["share"]

_ERRORS = (ShareError, InputError, SchemaError, pa.ArrowInvalid, OSError)


def _fail(message: str):
    click.echo(f"followmoney: error: {message}", err=True)
    sys.exit(2)


def _read(paths):
    from followmoney.consolidate import read

    return read(list(paths), progress=False)


def _subjects(bundle, subject, subjects_file, alerts, all_):
    import pyarrow.parquet as pq

    from followmoney.share._recipe import own_subjects

    out = list(subject)
    if subjects_file:
        try:
            out += [s.strip() for s in Path(subjects_file).read_text(encoding="utf-8").splitlines() if s.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise ShareError(f"{subjects_file}: cannot read the subjects list ({type(exc).__name__})") from None
    if alerts:
        try:
            out += pq.read_table(alerts, columns=["subject_id"])["subject_id"].to_pylist()
        except (OSError, pa.ArrowException, KeyError):
            raise ShareError(f"{alerts}: not an alerts table (alerts.parquet of a followmoney score run)") from None
    if all_:
        out += own_subjects(bundle)
    if not out:
        raise ShareError("no subjects: name them with --subject, --subjects-file, --alerts or --all")
    return list(dict.fromkeys(out))


@click.group()
def share() -> None:
    """FIU-to-FIU cooperation: find subjects in common without handing over data; carry a case across a border.

    Exports are pseudonymised personal data, not anonymous: send them only to the
    partner the key was agreed with, over FIU.net or Egmont Secure Web.
    """


@share.command()
@click.option("--partner", "partners", multiple=True, required=True, help="An FIU of the pair (give two).")
@click.option("--period", required=True, help="Validity period, e.g. 2026-Q4.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Key file to write (mode 0600; never overwritten).")
def keygen(partners, period, out):
    """Draw a fresh 256-bit key for one partner pair and period."""
    from followmoney.share._keys import new_key, write_key

    try:
        key = new_key(partners, period)
        write_key(key, out)
    except _ERRORS as exc:
        _fail(str(exc))
    click.echo(f"Key {key.key_id} for {key.partners[0]} + {key.partners[1]}, period {key.period}, written to {out}.")
    click.echo("Agree it with the partner out of band; keep it apart from every export.")


_subject_opts = [
    click.option("--subject", multiple=True, help="party_id or account_id (repeatable)."),
    click.option("--subjects-file", type=click.Path(path_type=Path), help="One subject id per line."),
    click.option("--alerts", type=click.Path(path_type=Path), help="alerts.parquet of a score run: all alerted subjects."),
    click.option("--all", "all_", is_flag=True, help="Every party, and every account no party holds."),
]


def _with_subjects(f):
    for opt in reversed(_subject_opts):
        f = opt(f)
    return f


@share.command("export")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--key", "key_file", required=True, type=click.Path(path_type=Path), help="Key file of the partner pair and period.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Match-key export to write (Parquet).")
@click.option("--refs", type=click.Path(path_type=Path), help="Private ref map (default: OUT with .refs.parquet). Never send it.")
@click.option("--clk", is_flag=True, help="Also export balanced CLKs for fuzzy name matching (opt-in; weaker threat model).")
@click.option("--filter", "filter_fpr", type=float, help="Write a membership filter with this false-positive rate instead (e.g. 1e-6).")
@_with_subjects
def export_cmd(paths, key_file, out, refs, clk, filter_fpr, subject, subjects_file, alerts, all_):
    """Export keyed match keys of chosen subjects for one partner."""
    from followmoney.share._export import export_filter, export_keys
    from followmoney.share._keys import read_key

    try:
        key = read_key(key_file)
        bundle = _read(paths)
        subs = _subjects(bundle, subject, subjects_file, alerts, all_)
        if filter_fpr is not None:
            f = export_filter(bundle, subs, key, fpr=filter_fpr)
            f.write(out)
            click.echo(f"Membership filter of {f.header['n']} tokens ({f.header['m']} bits, k={f.header['k']}, "
                       f"nominal false-positive rate {f.header['fpr']:g}) written to {out}.")
            return
        exp = export_keys(bundle, subs, key, clk=clk)
        refs = refs or out.with_name(out.name.removesuffix(".parquet") + ".refs.parquet")
        exp.write(out, refs)
    except _ERRORS as exc:
        _fail(str(exc))
    kinds = ", ".join(f"{k} {n}" for k, n in exp.header["kinds"].items())
    click.echo(f"{exp.header['subjects']} subjects, period {key.period}, key {key.key_id}: {kinds}.")
    click.echo(f"Export: {out}. Private ref map (keep, never send): {refs}.")


@share.command("match")
@click.argument("their_keys", type=click.Path(path_type=Path))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--key", "key_file", required=True, type=click.Path(path_type=Path))
@click.option("--partner", help="Name of the partner FIU for the alerts (default: the key's other partner).")
@click.option("--me", help="Your FIU's name in the key (to tell the partner apart).")
@click.option("--out", type=click.Path(path_type=Path), help="Hits as CSV (and .parquet beside it).")
@click.option("--alerts-out", type=click.Path(path_type=Path), help="Hits as alerts (rule XB-01), Parquet.")
def match_cmd(their_keys, paths, key_file, partner, me, out, alerts_out):
    """Match a partner's export (or membership filter) against one's own data, locally."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from followmoney.share._export import filter_hits, hits_to_alerts, match, read_export, read_filter
    from followmoney.share._keys import read_key

    try:
        key = read_key(key_file)
        meta = (pq.read_schema(their_keys).metadata or {}) if Path(their_keys).is_file() else {}
        is_filter = b"followmoney-membership-filter" in meta.get(b"followmoney.share", b"")
        bundle = _read(paths)
        if is_filter:
            hits = filter_hits(read_filter(their_keys, key), bundle, key)
        else:
            hits = match(read_export(their_keys, key), bundle, key)
        if partner is None:
            others = [p for p in key.partners if p != me]
            partner = others[0] if len(others) == 1 else "/".join(key.partners)
        if out:
            flat = hits.set_column(hits.column_names.index("matched_kinds"), "matched_kinds",
                                   pa.array([";".join(k) for k in hits["matched_kinds"].to_pylist()], pa.string()))
            pacsv.write_csv(flat, out)
            pq.write_table(hits, Path(out).with_suffix(".parquet"))
        if alerts_out and not is_filter:
            pq.write_table(hits_to_alerts(hits, partner, export_name=Path(their_keys).name), alerts_out)
    except (*_ERRORS, pa.ArrowException) as exc:
        _fail(str(exc) if isinstance(exc, (ShareError, InputError)) else f"{their_keys}: cannot read ({type(exc).__name__})")
    subjects = len(set(hits["subject_id"].to_pylist()))
    click.echo(f"{hits.num_rows} hit(s) on {subjects} own subject(s) in {Path(their_keys).name} from {partner}.")
    for h in hits.slice(0, 20).to_pylist():
        ref = h.get("partner_ref") or "(filter: no ref)"
        click.echo(f"  {h['subject_id']}  <- ref {ref}  on {', '.join(h['matched_kinds'])}"
                   + (f"  ({h['confidence'].replace('_', ' ')})" if "confidence" in h else ""))


@share.command()
@click.argument("refs_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("refs", nargs=-1, required=True)
def lookup(refs_file, refs):
    """Resolve refs quoted in a partner's request to one's own subjects (exporter side)."""
    import pyarrow.parquet as pq

    try:
        t = pq.read_table(refs_file)
        m = dict(zip(t["ref"].to_pylist(), zip(t["subject_kind"].to_pylist(), t["subject_id"].to_pylist())))
    except (OSError, pa.ArrowException, KeyError):
        _fail(f"{refs_file}: not a ref map written by 'followmoney share export'")
    for r in refs:
        if r not in m:
            _fail(f"{refs_file}: ref {r} is not in this ref map (another export or period?)")
        click.echo(f"{r}\t{m[r][0]}\t{m[r][1]}")


@share.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Package to write (.fmpkg).")
@click.option("--from", "sender", required=True, help="Your FIU.")
@click.option("--to", "recipient", required=True, help="The partner FIU.")
@click.option("--purpose", required=True, help="Why the package is sent (shown to the recipient).")
@click.option("--kind", type=click.Choice(["spontaneous_disclosure", "request_for_information", "reply"]),
              default="spontaneous_disclosure", show_default=True)
@click.option("--redaction", type=click.Choice(["identifiers", "transactions", "full"]), default="transactions", show_default=True)
@click.option("--run", "run_alerts", type=click.Path(path_type=Path), help="alerts.parquet whose alerts on the case travel along.")
@click.option("--reference", help="Your case or request reference.")
@click.option("--caveat", "caveats", multiple=True, help="Handling caveat (repeatable; default: the standard set).")
@_with_subjects
def package(paths, out, sender, recipient, purpose, kind, redaction, run_alerts, reference, caveats,
            subject, subjects_file, alerts, all_):
    """Write a disclosure package of a case for a partner FIU."""
    import pyarrow.parquet as pq

    from followmoney.share._package import DEFAULT_CAVEATS, disclosure_package, open_package

    try:
        bundle = _read(paths)
        subs = _subjects(bundle, subject, subjects_file, alerts, all_)
        al = pq.read_table(run_alerts) if run_alerts else None
        disclosure_package(bundle, subs, out, sender=sender, recipient=recipient, purpose=purpose, kind=kind,
                           redaction=redaction, alerts=al, caveats=caveats or DEFAULT_CAVEATS, reference=reference)
        rows = open_package(out).manifest["rows"]
    except (*_ERRORS, pa.ArrowException) as exc:
        _fail(str(exc))
    click.echo(f"Package for {recipient} ({kind}, redaction {redaction}) written to {out}: "
               + ", ".join(f"{k} {v}" for k, v in rows.items()) + ".")
    click.echo(f"The recipient reads it as a source: followmoney score THEIR_FILES... {out.name} --out ...")


@share.command()
@click.argument("path", type=click.Path(path_type=Path))
def show(path):
    """Print what a package, export or filter declares (manifest or header; no personal data)."""
    import pyarrow.parquet as pq

    from followmoney.ingest.fm_package import is_package, open_package

    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if is_package(head):
            doc = open_package(path).manifest
        else:
            meta = (pq.read_schema(path).metadata or {}).get(b"followmoney.share")
            if not meta:
                raise ShareError(f"{path}: not a followmoney package, export or filter")
            doc = json.loads(meta)
    except (*_ERRORS, pa.ArrowException, ValueError) as exc:
        _fail(str(exc) if isinstance(exc, ShareError) else f"{path}: not a followmoney package, export or filter")
    click.echo(json.dumps(doc, indent=2))
