"""Mutation fuzzing of every ingest adapter (issue 14, item 9).

Each input is a real seed file (tests/data, sample_data) with a few random mutations:
byte flips, deleted / duplicated / swapped spans and lines, hostile tokens (``<``,
``&``, huge numbers, separators, NUL, invalid UTF-8, a DOCTYPE) and, for XML, a
record element (``<transaction>``, ``<Ntry>``, ``<Stmt>``, ``<Activity>``...) copied
into another place, so that nested and repeated structures are tried. Every input
is read by its adapter with a time limit, and the outcome is one of

* ``ok`` - read, and records in = records out + merged + rejects (``reconcile``);
* ``refused`` - :class:`~followmoney.ingest.InputError`, one line, no personal data;
* ``traceback`` - any other exception (a bug);
* ``hang`` - over the time limit;
* ``lost`` - read, but fewer records accounted for than an independent count of the
  input's records (``<transaction>`` elements, ``Ntry``/``TxDtls``, ``:61:`` lines,
  CSV data lines): records dropped without a reject;
* ``leak`` - an error or warning message quotes the input (a token of 6+ letters or
  digits from the file that is not a name of the format's own vocabulary).

Run at length with ``make fuzz`` (``python tests/fuzzing.py --per-adapter 2000``); the
test suite runs a short fixed-seed round (tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import collections
import inspect
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SAMPLES = REPO / "sample_data"

import followmoney as fm  # noqa: E402
from followmoney.ingest import ADAPTERS, InputError  # noqa: E402
from followmoney.ingest._xml import PARSER_OPTIONS  # noqa: E402

#: Adapter -> seed files (small, real). AMLSim seeds are folders (transactions.csv + companions).
FORMATS = ("goaml", "camt", "fincen", "mt940", "bank_csv", "amlsim", "ibm_aml", "pacs008", "pain001", "auth", "mt103")
#: Adapters whose inputs are XML (mostly mutated so that they stay well-formed).
_XML = ("goaml", "camt", "fincen", "pacs008", "pain001", "auth")

_TOKENS = [
    b"<", b">", b"&", b"&amp;", b"]]>", b"<!--", b"<!DOCTYPE r [<!ENTITY a 'b'>]>", b"\x00", b"\xff\xfe", b"\xc3",
    b"9999999999999999999999", b"-99999999999999999.999", b"1e400", b"NaN", b"0000-00-00", b"9999-12-31T23:59:59+14:00",
    b"99991231", b"0", b"-", b",", b";", b'"', b"\n", b"\r\n", b"\t", b":61:", b":86:", b":20:", b":62F:", b"\n-\n",
    b"C", b"D", b"RC", b"EUR", b"XXX", b"", b" " * 5, "\u00e9\u00df".encode(), b"\xef\xbb\xbf",
]  # fmt: skip
_RECORD_TAGS = rb"transaction|report_party|t_from|t_to|t_from_my_client|t_to_my_client|Ntry|TxDtls|NtryDtls|Stmt|Rpt|Ntfctn|Bal|BkToCstmrStmt|Activity|Party|CurrencyTransactionActivity|CurrencyTransactionActivityDetail|Account|CdtTrfTxInf|PmtInf|Dbtr|Cdtr|InfReqOpng|InfReqRspn|RtrInd"


def seeds() -> dict[str, list[Path]]:
    """Seed files per adapter, from the repository only (no ../shared needed)."""
    out = {
        "goaml": sorted((SAMPLES / "goaml").glob("*.xml")) + sorted((DATA / "goaml").glob("*.xml")),
        "camt": sorted((DATA / "camt").glob("*.xml")),
        "fincen": sorted((DATA / "fincen").glob("*.xml")),
        "mt940": sorted((DATA / "mt940").glob("*.sta")),
        "bank_csv": sorted((DATA / "bank_csv").glob("*.csv")),
        "ibm_aml": sorted((DATA / "ibm_aml").glob("*.csv")),
        "amlsim": [SAMPLES / "amlsim"],
        "pacs008": sorted((DATA / "wires").rglob("pacs008*.xml")),
        "pain001": sorted((DATA / "wires").glob("pain001*.xml")),
        "auth": sorted((DATA / "wires").glob("auth00*.xml")),
        "mt103": sorted(p for p in (DATA / "wires").iterdir() if p.suffix in (".fin", ".rje", ".dos")),
    }
    return out


# --------------------------------------------------------------------------- mutation
_TEXT_VALUES = [
    b"", b" ", b"9999999999999999999999", b"-1", b"0", b"1e400", b"NaN", b"12,50", b"-0.001", b"99991231", b"0000-00-00",
    b"2026-02-30", b"9999-12-31T23:59:59+14:00", b"0001-01-01T00:00:00-14:00", b"XXX", b"CRDT", b"DBIT", b"BOOK", b"PDNG",
    b"string", b"N/A", b"&amp;", b"&lt;b&gt;", "\u00e9\u00df\u202e".encode(), b"=HYPERLINK(1)",
]  # fmt: skip
_TEXT = re.compile(rb">([^<>]*)</")
_START = re.compile(rb"<((?:\w+:)?\w+)[\s>]")


def mutate_xml(data: bytes, rng: random.Random) -> bytes:
    """One to three mutations that keep the document well-formed: a text value replaced,
    an element deleted, or a record element copied into another place."""
    b = bytes(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(3)
        if op == 0:
            texts = list(_TEXT.finditer(b))
            if texts:
                t = rng.choice(texts)
                b = b[: t.start(1)] + rng.choice(_TEXT_VALUES) + b[t.end(1) :]
        elif op == 1:  # an element deleted: a start tag and the first matching end tag after it
            starts = list(_START.finditer(b))
            if starts:
                st = rng.choice(starts)
                end = b.find(b"</" + st.group(1) + b">", st.end())
                if end > 0:
                    b = b[: st.start()] + b[end + len(st.group(1)) + 3 :]
        else:
            spans = list(re.finditer(rb"<((?:\w+:)?(?:" + _RECORD_TAGS + rb"))[\s>].*?</\1>", b, re.S))
            ends = [m.end() for m in re.finditer(rb">", b)]
            if spans and ends:
                sp, at = rng.choice(spans), rng.choice(ends)
                b = b[:at] + sp.group() + b[at:]
    return b


def mutate(data: bytes, rng: random.Random, fmt: str) -> bytes:
    """One to four random mutations of ``data`` (XML: mostly ones that keep it well-formed)."""
    if fmt in _XML and rng.random() < 0.7:
        return mutate_xml(data, rng)
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(10)
        n = len(b)
        if n == 0:
            b += rng.choice(_TOKENS)
            continue
        i = rng.randrange(n)
        j = min(n, i + rng.randint(1, 64))
        if op == 0:
            b[i] = rng.randrange(256)
        elif op == 1:
            del b[i:j]
        elif op == 2:
            b[i:i] = b[i:j]
        elif op in (3, 4):
            b[i:i] = rng.choice(_TOKENS)
        elif op == 5:
            b = b[: rng.randrange(n)]
        elif op == 6:  # a line duplicated, deleted or moved
            lines = bytes(b).split(b"\n")
            k = rng.randrange(len(lines))
            choice = rng.randrange(3)
            if choice == 0:
                lines.insert(rng.randrange(len(lines) + 1), lines[k])
            elif choice == 1:
                del lines[k]
            else:
                line = lines.pop(k)
                lines.insert(rng.randrange(len(lines) + 1), line)
            b = bytearray(b"\n".join(lines))
        elif op == 7:  # a number made huge or negative
            m = list(re.finditer(rb"\d+", bytes(b)))
            if m:
                x = rng.choice(m)
                b[x.start() : x.end()] = rng.choice([b"9" * rng.randint(15, 40), b"-" + x.group(), b"0" * 20 + x.group()])
        elif op == 8 and fmt in _XML:  # a record element copied elsewhere
            spans = list(re.finditer(rb"<((?:\w+:)?(?:" + _RECORD_TAGS + rb"))[\s>].*?</\1>", bytes(b), re.S))
            ends = [m.end() for m in re.finditer(rb">", bytes(b))]
            if spans and ends:
                s = rng.choice(spans)
                at = rng.choice(ends)
                b[at:at] = s.group()
        else:  # a field separator / delimiter inserted or removed
            seps = [m.start() for m in re.finditer(rb"[,;|\t]", bytes(b))]
            if seps and rng.random() < 0.5:
                del b[rng.choice(seps)]
            else:
                b[i:i] = rng.choice([b",", b";", b'"', b"\n"])
    return bytes(b)


# --------------------------------------------------------------------------- oracles
def expected_records(fmt: str, path: Path) -> int | None:
    """An independent count of the transaction records in ``path`` (None: no oracle)."""
    data = path.read_bytes()
    if fmt in ("goaml", "camt"):
        try:
            root = etree.fromstring(data, etree.XMLParser(**PARSER_OPTIONS))
        except etree.XMLSyntaxError:
            return None
        if root is None:
            return None
        local = lambda el: etree.QName(el).localname  # noqa: E731
        if fmt == "goaml":
            return sum(1 for el in root.iter(tag=etree.Element) if local(el) == "transaction")
        total = 0
        for el in root.iter(tag=etree.Element):
            if local(el) == "Ntry":
                txds = [t for nd in el if isinstance(nd.tag, str) and local(nd) == "NtryDtls" for t in nd if isinstance(t.tag, str) and local(t) == "TxDtls"]
                total += max(1, len(txds))
        return total
    if fmt == "mt940":
        return None  # :61: counting needs the reader's own tokenizer (continuation lines)
    if fmt in ("amlsim", "ibm_aml"):
        lines = data.split(b"\n")[1:]
        return sum(1 for ln in lines if ln.rstrip(b"\r"))
    return None


_WORDS = re.compile(rb"[A-Za-z0-9]{6,}")


def _vocabulary(fmt: str) -> set[str]:
    """Words a message may contain: the adapter's own source (element, column, field names)."""
    names = ["followmoney.ingest", "followmoney.ingest._xml", "followmoney.ingest._csv", "followmoney.ingest.reasons"]
    mods = [ADAPTERS[fmt], *(sys.modules[n] for n in names if n in sys.modules)]
    text = " ".join(inspect.getsource(m) for m in mods)
    # the XML parser's own words (libxml2 names the declaration's parts: "standalone value")
    xml = {"standalone", "version", "encoding", "doctype", "element"} if fmt in _XML else set()
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]{6,}", text)} | xml


_VOCAB: dict[str, set[str]] = {}


def leaked(fmt: str, message: str, data: bytes, path: Path) -> str | None:
    """A token of the input quoted in ``message`` (None when none is)."""
    vocab = _VOCAB.setdefault(fmt, _vocabulary(fmt))
    allowed = vocab | {w.lower() for w in re.findall(r"[A-Za-z0-9]{6,}", str(path))}
    low = message.lower()
    for w in set(_WORDS.findall(data)):
        t = w.decode("ascii").lower()
        if t in allowed or t.isdigit() and len(t) < 10:
            continue
        if re.search(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])", low):
            return t
    return None


# --------------------------------------------------------------------------- running
class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


@dataclass
class Report:
    counts: collections.Counter = field(default_factory=collections.Counter)
    failures: list[tuple[str, str, str, bytes]] = field(default_factory=list)  # (outcome, fmt, detail, input)
    seconds: float = 0.0

    def add(self, outcome: str, fmt: str, detail: str = "", data: bytes = b"") -> None:
        self.counts[(fmt, outcome)] += 1
        if outcome in ("traceback", "hang", "lost", "leak", "multiline"):
            self.failures.append((outcome, fmt, detail, data))

    def bad(self) -> int:
        return len(self.failures)

    def summary(self) -> str:
        lines = []
        for fmt in FORMATS:
            row = {o: self.counts[(fmt, o)] for o in ("ok", "refused", "traceback", "hang", "lost", "leak", "multiline")}
            if sum(row.values()):
                lines.append(f"{fmt:9s} " + " ".join(f"{k}={v}" for k, v in row.items()))
        kinds = collections.Counter((o, f, d) for o, f, d, _ in self.failures)
        for (o, f, d), n in kinds.most_common(40):
            lines.append(f"  {n:5d} x {o} {f}: {d}")
        lines.append(f"{sum(self.counts.values())} inputs in {self.seconds:.0f} s; {self.bad()} failures")
        return "\n".join(lines)


def run_one(fmt: str, seed: Path, data: bytes, work: Path, limit: float, report: Report) -> None:
    """Write ``data`` in place of ``seed`` (in a fresh folder under ``work``), read it, classify."""
    folder = work / "case"
    if folder.exists():
        shutil.rmtree(folder)
    if seed.is_dir():  # AMLSim: the folder with companions; mutate transactions.csv
        shutil.copytree(seed, folder, ignore=shutil.ignore_patterns("*.py", "*.md", "*.txt"))
        target = folder / "transactions.csv"
    else:
        folder.mkdir()
        target = folder / seed.name
    target.write_bytes(data)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                b = fm.read(target, format=fmt, progress=False)
            except InputError as exc:
                msg = str(exc)
                token = leaked(fmt, msg, data, target)
                if token:
                    report.add("leak", fmt, re.sub(re.escape(token), "<TOKEN>", msg, flags=re.I)[:160], data)
                elif "\n" in msg:
                    report.add("multiline", fmt, msg.split("\n")[0][:120], data)
                else:
                    report.add("refused", fmt)
                return
        for w in caught:
            token = leaked(fmt, str(w.message), data, target)
            if token:
                report.add("leak", fmt, f"warning {w.category.__name__}", data)
                return
        b.reconcile()
        want = expected_records(fmt, target)
        if want is not None:
            log = [r for r in b.load_log.to_pylist() if r["table"] == "transactions" and r["source_file"] == target.name]
            got = sum(r["records_read"] for r in log)
            if got < want:
                report.add("lost", fmt, f"{want - got} transaction record(s) neither written nor rejected", data)
                return
        report.add("ok", fmt)
    except _Timeout:
        report.add("hang", fmt, f"over {limit:.0f} s", data)
    except Exception as exc:  # noqa: BLE001 - classifying every failure is the point
        tb = traceback.extract_tb(exc.__traceback__)
        here = next((f for f in reversed(tb) if "followmoney" in f.filename), tb[-1] if tb else None)
        where = f"{Path(here.filename).name}:{here.lineno} {here.name}" if here else "?"
        report.add("traceback", fmt, f"{type(exc).__name__} at {where}", data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def fuzz(per_adapter: int, seed: int = 14, limit: float = 10.0, formats=FORMATS, work: Path | None = None) -> Report:
    """Run ``per_adapter`` mutated inputs through each adapter in ``formats``."""
    rng = random.Random(seed)
    report = Report()
    start = time.monotonic()
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="fm-fuzz-")) if own else work
    try:
        all_seeds = seeds()
        for fmt in formats:
            pool = [s for s in all_seeds[fmt] if s.exists()]
            raw = {s: (s / "transactions.csv").read_bytes() if s.is_dir() else s.read_bytes() for s in pool}
            for _ in range(per_adapter):
                s = rng.choice(pool)
                data = raw[s]
                if s.is_dir():  # keep AMLSim inputs small: the header and a slice of rows
                    lines = data.split(b"\n")
                    k = rng.randrange(1, max(2, len(lines) - 40))
                    data = b"\n".join(lines[:1] + lines[k : k + 40]) + b"\n"
                run_one(fmt, s, mutate(data, rng, fmt), work, limit, report)
    finally:
        report.seconds = time.monotonic() - start
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-adapter", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--limit", type=float, default=10.0, help="seconds per input before it counts as a hang")
    ap.add_argument("--format", action="append", choices=FORMATS, help="only these adapters (repeatable)")
    ap.add_argument("--save", type=Path, help="folder to write the failing inputs to")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    report = fuzz(args.per_adapter, args.seed, args.limit, tuple(args.format or FORMATS))
    print(report.summary())
    if args.save and report.failures:
        args.save.mkdir(parents=True, exist_ok=True)
        for i, (o, f, d, data) in enumerate(report.failures):
            (args.save / f"{i:04d}_{f}_{o}.bin").write_bytes(data)
    return 1 if report.bad() else 0


if __name__ == "__main__":
    sys.exit(main())
