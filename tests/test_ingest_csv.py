"""AMLSim and IBM AML adapters, on real samples and on hand-made traps."""

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.core.frame import prepare_transactions
from followmoney.ingest import InputError, amlsim, ibm_aml


# --------------------------------------------------------------------- AMLSim
def test_amlsim_sample_slice(sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv")
    b.reconcile()
    n_lines = sum(1 for _ in open(sample_data / "amlsim" / "transactions.csv")) - 1
    assert b.transactions.num_rows + b.rejects.num_rows == n_lines
    tx = b.transactions.to_pylist()
    first = tx[0]
    assert first["source_ref"] == "transactions.csv:2"
    assert first["from_account"] == "amlsim/475" and first["to_account"] == "amlsim/7"
    assert first["amount"] == Decimal("972.87") and first["currency"] == "USD"
    labelled = [t for t in tx if t["is_laundering"]]
    assert labelled and all(t["typology"] and t["label_alert_id"] for t in labelled)
    assert {t["typology"] for t in labelled} >= {"fan_in", "fan_out"}
    assert b.accounts.num_rows == b.party_accounts.num_rows > 0


def test_amlsim_full_dataset(shared):
    b = fm.read(shared / "datasets" / "amlsim" / "transactions.csv")
    assert b.transactions.num_rows == 199_299 and b.rejects.num_rows == 0
    assert pc.sum(b.transactions["is_laundering"]).as_py() == 1_985
    assert b.accounts.num_rows == 12_043


def test_amlsim_bad_rows_are_rejected_with_reason(tmp_path):
    f = tmp_path / "transactions.csv"
    f.write_text(
        "tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id\n"
        "1,10,20,TRANSFER,100.50,2017-01-01T00:00:00Z,False,-1\n"
        "2,10,20,TRANSFER,1.2.3,2017-01-01T00:00:00Z,False,-1\n"
        "3,10,20,TRANSFER,5.00,yesterday,False,-1\n"
        "4,,20,TRANSFER,5.00,2017-01-02T00:00:00Z,False,-1\n"
    )
    b = amlsim.read(f)
    b.reconcile()
    assert b.transactions.num_rows == 1
    rej = b.rejects.to_pylist()
    assert [r["source_ref"] for r in rej] == ["transactions.csv:3", "transactions.csv:4", "transactions.csv:5"]
    assert [r["reason"].split(":")[0] for r in rej] == ["base_amt", "tran_timestamp", "orig_acct"]
    assert rej[0]["raw"].startswith("2,10,20")


def test_amlsim_missing_column_names_the_file(tmp_path):
    f = tmp_path / "transactions.csv"
    f.write_text("tran_id,orig_acct,bene_acct\n1,2,3\n")
    with pytest.raises(InputError, match="transactions.csv: line 1"):
        amlsim.read(f)


# --------------------------------------------------------------------- IBM AML
def test_ibm_br22_traps(data_dir):
    """shared/cases/ingest.md BR-22."""
    b = fm.read(data_dir / "ibm_aml" / "br22_traps.csv")
    b.reconcile()
    rows = b.transactions.to_pylist()
    assert len(rows) == 4 and b.rejects.num_rows == 0
    assert rows[0]["from_account"] == "011/80000AAA1" and rows[0]["quality_flags"] == ["self_transfer"]
    assert rows[1]["amount"] == Decimal("-250.00") and "negative_amount" in rows[1]["quality_flags"]
    assert rows[2]["amount"] is None and rows[2]["amount_received"] is None
    assert "invalid_amount" in rows[2]["quality_flags"]
    r4 = rows[3]
    assert (r4["amount"], r4["currency"]) == (Decimal("108.50"), "USD")
    assert (r4["amount_received"], r4["currency_received"]) == (Decimal("100.00"), "EUR")
    assert r4["is_laundering"] is True
    inst = b.accounts.to_pylist()
    assert {a["institution"] for a in inst} >= {"011", "012", "013"}


def test_ibm_self_transfer_and_negative_excluded_from_scores(data_dir):
    frame = prepare_transactions(fm.read(data_dir / "ibm_aml" / "br22_traps.csv").transactions)
    assert frame["self_transfer"].tolist() == [True, False, False, False]
    assert frame["amount_cents"].isna().tolist() == [False, True, True, False]


def test_ibm_real_excerpt(shared):
    b = fm.read(shared / "samples" / "ibm_aml" / "HI-Small_Trans_first4rows_excerpt_from_quotes.csv")
    rows = sorted(b.transactions.to_pylist(), key=lambda r: r["source_seq"])  # in the file's order
    assert len(rows) == 4
    assert rows[1]["from_account"] == "03208/8000F4580" and rows[1]["to_account"] == "001/8000F5340"
    assert rows[1]["amount"] == Decimal("0.01") and rows[1]["channel"] == "cheque"


def test_ibm_companion_accounts_file(tmp_path, data_dir):
    (tmp_path / "X_Trans.csv").write_bytes((data_dir / "ibm_aml" / "br22_traps.csv").read_bytes())
    (tmp_path / "X_accounts.csv").write_text(
        "Bank Name,Bank ID,Account Number,Entity ID,Entity Name\nTest Bank #1,015,80000EEE5,800AAA,Corporation #1\n"
    )
    b = fm.read(tmp_path)  # the companion is read with, not besides, the transactions
    b.reconcile()
    acc = {a["account_id"]: a for a in b.accounts.to_pylist()}
    assert acc["015/80000EEE5"]["name"] == "Test Bank #1"
    assert b.party_accounts.to_pylist()[0]["account_id"] == "015/80000EEE5"


def test_ibm_rounded_amounts_are_flagged(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text(
        "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
        "2022/09/01 00:20,1,A,2,B,0.000123,Bitcoin,0.005,Bitcoin,Bitcoin,0\n"
    )
    row = ibm_aml.read(f).transactions.to_pylist()[0]
    assert row["currency"] == "XBT" and row["amount"] == Decimal("0.00") and row["channel"] == "crypto"
    assert "amount_rounded" in row["quality_flags"]


def test_ibm_ids_flags_and_codes_match_the_row_by_row_definitions(tmp_path):
    """Column-wise ids, flags, currencies and channels equal what ContentIds / the row-by-row mapping give:
    repeated rows told apart by occurrence, values trimmed as str.strip() does (non-ASCII spaces too)."""
    from followmoney.ingest._collect import ContentIds

    head = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
    rows = [
        "2022/09/01 00:20,1,A,2,B,10.00,US Dollar,10.00,US Dollar,Wire,0",
        "2022/09/01 00:20,1,A,2,B,10.00,US Dollar,10.00,US Dollar,Wire,0",  # the same again
        "2022/09/01 00:20,1, A ,2,B,10.00,US Dollar,10.00,US Dollar,Wire,0",  # the same once trimmed
        "2022/09/01 00:21,1,A,1,A,-5.001,Gold,5.00,Euro,Barter,1",
        "2022/09/01 00:22,1,\u00a0Ä\u00a0,2,B,1.00,Yen,1.00,Yen,Cash,0",
        "2022/09/01 00:23,1,A,2,B,(null),Euro,(null),Euro,Cheque,0",
    ]
    f = tmp_path / "t.csv"
    f.write_text(head + "\n".join(rows) + "\n", "utf-8")
    t = ibm_aml.read(f).transactions.to_pylist()
    ids = ContentIds("T")
    want = [ids("ibm_aml", *(v.strip() for v in r.split(","))) for r in rows]
    assert [x["txn_id"] for x in t] == want and len(set(want)) == 6
    assert t[4]["from_account"] == "1/\u00a0Ä\u00a0"  # ids trim, account ids keep the value
    assert [x["quality_flags"] for x in t] == [[], [], [], ["self_transfer", "negative_amount", "amount_rounded", "unknown_currency"], [], ["invalid_amount"]]
    assert [x["currency"] for x in t] == ["USD", "USD", "USD", "EUR", "JPY", "EUR"]
    assert t[3]["currency_received"] is None
    assert [x["channel"] for x in t] == ["wire", "wire", "wire", "other", "cash_deposit", "cheque"]


# --------------------------------------------------------------------- read()
def test_read_unknown_format_names_the_file(tmp_path):
    f = tmp_path / "mystery.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="mystery.csv: unrecognised format"):
        fm.read(f)


def test_read_refuses_ambiguous_file_names(tmp_path, data_dir):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "br22_traps.csv").write_bytes(b"x")
    with pytest.raises(InputError, match="share the file name"):
        fm.read([data_dir / "ibm_aml" / "br22_traps.csv", tmp_path / "a" / "br22_traps.csv"])


def test_sniff(data_dir, sample_data):
    assert fm.sniff(data_dir / "ibm_aml" / "br22_traps.csv") == "ibm_aml"
    assert fm.sniff(sample_data / "amlsim" / "transactions.csv") == "amlsim"


def test_ibm_ids_count_a_rows_occurrence_among_rows_of_its_own_text(tmp_path, monkeypatch):
    """Rows hashed alike but of different text (a digest collision, forced here) are not one content
    seen twice: only the row that repeats another's text is hashed again with its occurrence."""
    import hashlib

    real = hashlib.blake2b
    again = []

    def colliding(data=None, digest_size=64):
        if data is None:  # the file's digest
            return real(digest_size=digest_size)
        if b"\x1f#" in data:
            again.append(bytes(data))
            return real(data, digest_size=digest_size)
        return real(b"one digest for every text", digest_size=digest_size)

    head = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
    a, b = "2022/09/01 00:20,1,A,2,B,10.00,US Dollar,10.00,US Dollar,Wire,0", "2022/09/01 00:21,1,A,2,B,10.00,US Dollar,10.00,US Dollar,Wire,0"
    f = tmp_path / "t.csv"
    f.write_text(head + "\n".join([a, b, a]) + "\n", "utf-8")
    monkeypatch.setattr(hashlib, "blake2b", colliding)
    ibm_aml.read(f)
    assert again == ["\x1f".join(["ibm_aml", *a.split(",")]).encode() + b"\x1f#1"]


_IBM_HEAD = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
_IBM_ROWS = [
    "2022/09/01 00:20,1,A,2,B,10.00,US Dollar,10.00,US Dollar,Wire,0",
    "2022/09/01 00:20,1, A ,2,B,10.00,US Dollar,10.00,US Dollar,Wire,0",  # the first once trimmed
    "2022/09/01 00:21,1,A,1,A,-5.001,Gold,5.00,Euro,Barter,1",
    "2022/13/01 00:20,1,A,2,B,10.00,US Dollar,10.00,US Dollar,Wire,0",  # rejected: no such month
    "2022/09/01 00:22,1,,2,B,1.00,Yen,1.00,Yen,Cash,0",  # rejected: no account
    "2022/09/01 00:23,1,A,2,B,9999999999999999.00,Euro,1.00,Euro,Cheque,0",  # rejected: out of range
]


@given(st.lists(st.integers(0, len(_IBM_ROWS) - 1), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_ibm_rejected_rows_change_neither_ids_nor_positions_of_the_rows_kept(tmp_path_factory, picks):
    """The rows kept have the ids and source positions they have in the same file without the rejected
    lines (ids are hashed for every row read, before the rejects are known); the positions are what
    ``source_sequence`` makes of the refs."""
    from followmoney.core.timing import source_sequence

    d = tmp_path_factory.mktemp("ibm")
    rows = [_IBM_ROWS[i] for i in picks]
    (d / "all_Trans.csv").write_text(_IBM_HEAD + "\n".join(rows) + "\n", "utf-8")
    got = ibm_aml.read(d / "all_Trans.csv")
    kept = [r for r, i in zip(rows, picks) if i < 3]
    assert got.transactions.num_rows == len(kept) and got.rejects.num_rows == len(rows) - len(kept)
    if not kept:
        return
    (d / "kept_Trans.csv").write_text(_IBM_HEAD + "\n".join(kept) + "\n", "utf-8")
    want = ibm_aml.read(d / "kept_Trans.csv").transactions
    assert got.transactions["txn_id"].to_pylist() == want["txn_id"].to_pylist()
    seq = got.transactions["source_seq"].to_pylist()
    assert seq == list(range(1, len(kept) + 1)) == source_sequence(got.transactions["source_ref"]).to_pylist()


def test_ibm_ids_of_kept_rows_count_occurrences_again_where_a_repeated_content_lost_a_row():
    """Where a digest repeated among the rows read and some were rejected, the kept rows' occurrences are
    counted among themselves (as if the rejected row had never been read), not taken from every row's ids."""
    head = _IBM_HEAD.strip().split(",")
    row = _IBM_ROWS[0].split(",")
    raw = pa.table({f"c{i}": [v] * 3 for i, v in enumerate(row)})
    raw = pa.table({c: raw[f"c{i}"] for i, c in enumerate(ibm_aml._COLS)})
    assert len(head) == len(ibm_aml._COLS)
    keep = ibm_aml._keeper(pa.array([True, False, False]))  # the first copy rejected
    kept = keep(raw)
    got = ibm_aml._kept_ids(ibm_aml._content_ids(raw), keep, kept, True)
    assert got.to_pylist() == ibm_aml._content_ids(kept)[0].to_pylist() != keep(ibm_aml._content_ids(raw)[0]).to_pylist()


_AMOUNT_TEXT = st.one_of(
    st.from_regex(r"[+-]?[0-9]{1,17}(\.[0-9]{0,13})?", fullmatch=True),
    st.sampled_from(["", "(null)", "1e5", "1,000.00", " 12.505 ", "999999999999999.995", "9999999999999999.995", "-0.005"]),
)


@given(st.lists(_AMOUNT_TEXT, max_size=12))
@settings(max_examples=200, deadline=None)
def test_amounts_are_exact_decimals_rounded_half_even_to_hundredths(texts):
    """Each amount is the decimal the text writes, rounded half-to-even to hundredths; ok for a plain
    decimal (at most 16 digits before the point, 12 after), rounded where it had more than two
    decimals, and null where it is not ok or, rounded, reaches 10^15 (beyond decimal(18, 3))."""
    import re
    from decimal import ROUND_HALF_EVEN

    from followmoney.ingest._csv import parse_money_checked

    values, ok, rounded, fits = parse_money_checked(pa.chunked_array([pa.array(texts, pa.string())]))
    for t, v, o, r, f in zip(texts, values.to_pylist(), ok.to_pylist(), rounded.to_pylist(), fits.to_pylist()):
        s = t.strip()
        assert o == (re.fullmatch(r"[+-]?[0-9]{1,16}(\.[0-9]{1,12})?", s) is not None)
        if not o:
            assert v is None and not r
            continue
        d = Decimal(s).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        assert r == ("." in s and len(s.split(".")[1]) > 2)
        assert f == (abs(d) < 10**15) and v == (d if f else None)
