"""Point-in-time features: pinned definitions (BR-24 leakage, BR-25 parallel edges), a
naive per-row reference on random graphs, and the appending property."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import permutations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.core import schema
from followmoney.detect.models import split_at
from followmoney.detect.features import (
    FEATURES,
    FeatureSettings,
    account_features,
    feature_definitions,
    stream_frame,
    transaction_feature_names,
    transaction_features,
)

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def table(rows, *, unit=timedelta(days=1)):
    """rows: (txn_id, src, dst, amount, t[, currency[, channel]]); t in ``unit`` after T0."""
    rows = [tuple(r) + (None,) * (7 - len(r)) for r in rows]
    return schema.conform(
        {
            "txn_id": [r[0] for r in rows],
            "source": ["test"] * len(rows),
            "source_ref": [f"test:{i + 2}" for i in range(len(rows))],
            "from_account": [r[1] for r in rows],
            "to_account": [r[2] for r in rows],
            "amount": [Decimal(str(r[3])) for r in rows],
            "currency": [r[5] or "EUR" for r in rows],
            "channel": [r[6] or "transfer" for r in rows],
            "timestamp": [T0 + r[4] * unit for r in rows],
        },
        "transactions",
    )


# ----------------------------------------------------------------- BR-24: no future edges

BR24 = [
    ("e1", "S1", "X", 900, 1, 0),
    ("e2", "S2", "X", 900, 2, 0),
    ("e3", "S3", "Y", 500, 3, 0),
    ("e4", "S4", "X", 900, 4, 1),
    ("e5", "S5", "Y", 500, 5, 0),
    ("e6", "S6", "X", 900, 6, 1),
    ("e7", "S7", "X", 900, 7, 1),
    ("e8", "S8", "Y", 500, 8, 0),
]


def test_br24_fan_in_prior_uses_only_earlier_edges():
    X = transaction_features(table([r[:5] for r in BR24]))
    fan_in_prior = X["dst_in_fan"]  # distinct senders to the receiver before this transaction
    assert fan_in_prior["e4"] == 2  # e1, e2
    assert fan_in_prior["e6"] == 3
    assert fan_in_prior["e7"] == 4


def test_br24_training_features_identical_with_and_without_later_rows():
    train_rows = [r[:5] for r in BR24 if r[4] <= 5]
    alone = transaction_features(table(train_rows))
    full = transaction_features(table([r[:5] for r in BR24]))
    pd.testing.assert_frame_equal(alone, full.loc[alone.index])


def test_br24_evaluation_uses_only_the_test_period():
    X = transaction_features(table([r[:5] for r in BR24]))
    t = np.array([int(txn[1:]) for txn in X.index])  # e<k> happens on day k
    train, test = split_at(t, 6)
    assert X.index[train].tolist() == ["e1", "e2", "e3", "e4", "e5"]
    assert X.index[test].tolist() == ["e6", "e7", "e8"]


# ----------------------------------------------------------------- BR-25: parallel edges, duplicates

BR25 = [
    ("tx1", "A", "B", "100.00", 1),
    ("tx2", "A", "B", "100.00", 2),
    ("tx3", "A", "C", "50.00", 3),
    ("tx3", "A", "C", "50.00", 3),
]


def test_br25_account_definitions_pinned():
    acc = account_features(table(BR25), freq_days=30).set_index("account_id")
    assert len(stream_frame(table(BR25))) == 3  # after txid dedupe
    assert acc.loc["A", "out_counterparties"] == 2  # distinct receivers
    assert acc.loc["A", "out_count"] == 3  # parallel edges count once each
    assert acc.loc["A", "out_amount_EUR"] == 250.00
    assert acc.loc["B", "in_count"] == 2
    assert acc.loc["B", "in_counterparties"] == 1


def test_br25_transaction_definitions_pinned():
    X = transaction_features(table(BR25))
    assert X.index.tolist() == ["tx1", "tx2", "tx3"]
    assert X.loc["tx3", "src_out_count"] == 2  # tx1, tx2: parallel edges are two transactions
    assert X.loc["tx3", "src_out_fan"] == 1  # ... to one counterparty
    assert X.loc["tx3", "src_out_amount"] == 200.00
    assert X.loc["tx2", "pair_count"] == 1
    assert X.loc["tx2", "dst_in_fan"] == 1 and X.loc["tx2", "dst_in_count"] == 1
    assert X.loc["tx3", "gather_scatter"] == 0  # A received nothing


# ----------------------------------------------------------------- hand-made definitions


def test_window_is_half_open_and_short_window():
    rows = [("a", "S", "R", 10, 0), ("b", "S", "R", 10, 240), ("c", "S", "R", 10, 241), ("d", "S", "R", 10, 250)]
    X = transaction_features(table(rows, unit=HOUR), FeatureSettings(window_hours=240, short_window_hours=10))
    assert X.loc["b", "src_out_count"] == 0  # exactly W before: outside (t - W, t]
    assert X.loc["c", "src_out_count"] == 1
    assert X.loc["d", "src_out_count"] == 2 and X.loc["d", "src_count_short"] == 1
    assert X.loc["d", "pair_hours_since"] == 9 and np.isnan(X.loc["a", "pair_hours_since"])


def test_cash_side_has_no_account_features_and_amounts_stay_per_currency():
    rows = [
        ("c1", None, "A", "900.00", 1, "EUR", "cash_deposit"),
        ("c2", "B", "A", "100.00", 2, "USD"),
        ("c3", "A", "C", "750.00", 3, "EUR"),
        ("c4", "A", None, "50.00", 4, "EUR", "cash_withdrawal"),
    ]
    X = transaction_features(table(rows))
    assert np.isnan(X.loc["c1", "src_in_count"]) and np.isnan(X.loc["c4", "dst_out_fan"])
    assert X.loc["c3", "src_in_amount"] == 900.0  # EUR only: the USD credit is not added
    assert X.loc["c3", "src_in_count"] == 2 and X.loc["c3", "src_in_fan"] == 1  # cash has no counterparty account
    assert X.loc["c3", "src_pass_through"] == pytest.approx(750 / 900)
    assert X.loc["c4", "src_cash_share"] == pytest.approx(1 / 3)
    assert X.loc["c4", "src_round_share"] == pytest.approx(2 / 3)  # 900.00 and 100.00 are multiples of 100
    assert X.loc["c3", "src_hours_since_in"] == 24.0 and np.isnan(X.loc["c3", "src_hours_since_out"])
    assert X.loc["c1", "is_cash"] == 1 and X.loc["c2", "is_round"] == 1 and X.loc["c4", "is_round"] == 0


def test_night_share_uses_the_local_clock():
    rows = [("n1", "A", "B", 10, 23), ("n2", "A", "B", 10, 30), ("n3", "A", "B", 10, 40)]  # 23:00, 06:00, 16:00 UTC
    utc = transaction_features(table(rows, unit=HOUR))
    assert utc["is_night"].tolist() == [0.0, 0.0, 0.0]
    tokyo = transaction_features(table(rows, unit=HOUR), timezone="Asia/Tokyo")  # 08:00, 15:00, 01:00
    assert tokyo["is_night"].tolist() == [0.0, 0.0, 1.0]
    assert utc.loc["n3", "src_night_share"] == 0.0


def test_burstiness_regular_and_bursty():
    regular = [(f"r{i}", "A", "B", 10, 24 * i) for i in range(6)]
    X = transaction_features(table(regular, unit=HOUR))
    assert X.loc["r5", "src_burstiness"] == pytest.approx(-1.0)
    bursty = [(f"b{i}", "A", "B", 10, h) for i, h in enumerate([0, 1, 2, 3, 100, 101, 200])]
    X = transaction_features(table(bursty, unit=HOUR))
    assert X.loc["b6", "src_burstiness"] > 0


def test_scatter_gather_gather_scatter_and_participation():
    rows = [("s1", "S", "M1", 100, 1), ("s2", "S", "M2", 100, 2), ("s3", "S", "M3", 100, 3),
            ("g1", "M1", "D", 95, 4), ("g2", "M2", "D", 95, 5), ("g3", "M3", "D", 95, 6),
            ("later", "D", "Z", 280, 7)]  # fmt: skip
    X = transaction_features(table(rows))
    assert X.loc[["g1", "g2", "g3"], "scatter_gather"].tolist() == [1.0, 2.0, 3.0]
    assert X.loc["s1", "scatter_gather"] == 0
    # participation: patterns of 2+ intermediaries closed before (g2 and g3 close them)
    assert X.loc["later", "src_sg_part"] == 2.0
    hub = [("i1", "A1", "H", 10, 1), ("i2", "A2", "H", 10, 2), ("i3", "A3", "H", 10, 3),
           ("o1", "H", "B1", 10, 4), ("o2", "H", "B2", 10, 5), ("o3", "H", "B2", 10, 6)]  # fmt: skip
    X = transaction_features(table(hub))
    assert X.loc[["o1", "o2", "o3"], "gather_scatter"].tolist() == [1.0, 2.0, 2.0]


def test_temporal_cycles_respect_time_order_and_window():
    rows = [("a", "A", "B", 100, 1), ("b", "B", "C", 100, 2), ("c", "C", "A", 100, 3),  # a 3-cycle
            ("d", "A", "D", 100, 4), ("e", "D", "E", 100, 5), ("f", "E", "F", 100, 6), ("g", "F", "A", 100, 7),  # 4-cycle
            ("h", "B", "A", 100, 8)]  # fmt: skip
    X = transaction_features(table(rows))
    assert X.loc["c", "cycles_3"] == 1
    assert X.loc["g", "cycles_4"] == 1 and X.loc["g", "cycles_3"] == 0
    assert X.loc["h", "cycles_2"] == 1  # a: A -> B before h: B -> A
    assert X.loc["g", "src_cycle_part"] == 0 and X.loc["h", "src_cycle_part"] == 1  # B was in the 3-cycle
    # not time-respecting: B -> C happened before A -> B
    rev = [("b", "B", "C", 100, 1), ("a", "A", "B", 100, 2), ("c", "C", "A", 100, 3)]
    assert transaction_features(table(rev))[["cycles_3"]].sum().sum() == 0
    # outside the pattern window
    slow = [("a", "A", "B", 100, 0), ("b", "B", "C", 100, 10), ("c", "C", "A", 100, 21)]
    assert transaction_features(table(slow), FeatureSettings(pattern_window_hours=480))["cycles_3"].sum() == 0


def test_neighbour_aggregates():
    rows = [("x1", "P", "Q1", 10, 1), ("x2", "P", "Q2", 10, 2), ("x3", "P", "H", 10, 3), ("x4", "H", "Z", 10, 4)]
    X = transaction_features(table(rows))
    assert X.loc["x3", "src_out_fan"] == 2
    assert X.loc["x4", "src_in_nbr_out_fan"] == 2.0  # H's only sender, P, had fan-out 2 when it paid H


# ----------------------------------------------------------------- catalogue, settings, determinism


def test_every_column_is_documented_with_a_unit():
    X = transaction_features(table(BR25))
    assert list(X.columns) == transaction_feature_names()
    for c in X.columns:
        assert FEATURES[c].definition and FEATURES[c].unit, c
    d = feature_definitions("account")
    acc = account_features(table(BR25))
    documented = {n.replace("<CUR>", "EUR") for n in d["name"]}
    assert set(acc.columns) - {"account_id", "window_start", "window_end"} <= documented
    with pytest.raises(ValueError, match="level"):
        feature_definitions("edge")


@pytest.mark.parametrize(
    "kw, match",
    [({"window_hours": 0}, "window_hours"), ({"max_branch": 0}, "max_branch"), ({"night_hours": (0, 30)}, "night_hours"),
     ({"round_unit": "-5"}, "round_unit"), ({"max_paths": 10}, "max_paths")],
)  # fmt: skip
def test_settings_are_validated(kw, match):
    with pytest.raises(ValueError, match=match):
        FeatureSettings(**kw)


def test_settings_round_trip_and_unknown_keys():
    s = FeatureSettings(window_hours=48, night_hours=(22, 5), cash_channels=["atm"])
    assert FeatureSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="unknown"):
        FeatureSettings.from_dict({"window": 3})


def test_thread_count_and_row_order_do_not_change_features(sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv")
    one = transaction_features(b, n_jobs=1)
    two = transaction_features(b, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)
    shuffled = b.transactions.take(np.random.default_rng(0).permutation(b.transactions.num_rows))
    pd.testing.assert_frame_equal(transaction_features(shuffled), one)
    assert one.shape == (b.transactions.num_rows, len(transaction_feature_names()))
    assert (one["scatter_gather"] > 0).any() and (one[["cycles_3", "cycles_4", "cycles_5"]].to_numpy() > 0).any()


def test_empty_input():
    X = transaction_features(schema.empty("transactions"))
    assert X.shape == (0, len(transaction_feature_names()))
    assert account_features(schema.empty("transactions")).empty


def test_account_features_windows(sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv")
    acc = account_features(b, freq_days=7)
    assert (acc["window_end"] - acc["window_start"] == pd.Timedelta(days=7)).all()
    assert not acc.duplicated(["account_id", "window_start"]).any()
    n = b.transactions.num_rows
    assert acc["in_count"].sum() == n and acc["out_count"].sum() == n
    assert acc[["cash_share", "round_share", "night_share"]].stack().between(0, 1).all()
    with pytest.raises(ValueError, match="freq_days"):
        account_features(b, freq_days=0)


# ----------------------------------------------------------------- naive reference on random graphs

ACCOUNTS = ["A", "B", "C", "D", "E"]


@st.composite
def graphs(draw, max_rows=18):
    n = draw(st.integers(1, max_rows))
    rows = []
    for i in range(n):
        src = draw(st.sampled_from(ACCOUNTS + [None]))
        dst = draw(st.sampled_from([a for a in ACCOUNTS if a != src]))
        rows.append((f"t{i:02d}", src, dst, draw(st.sampled_from(["100.00", "35.50", "900.00"])),
                     draw(st.integers(0, 60)), draw(st.sampled_from(["EUR", "EUR", "USD"]))))  # fmt: skip
    return rows


def naive(rows, s):
    """Per-row Python reference of the definitions (for tests only)."""
    rows = sorted(rows, key=lambda r: (r[4], r[0]))
    W, Wp, Ws = s.window_hours, s.pattern_window_hours, s.short_window_hours
    out = {}
    for q, (tid, u, v, _amount, t, cur) in enumerate(rows):
        prior = rows[:q]
        win = [r for r in prior if r[4] > t - W]
        pwin = [r for r in prior if r[4] > t - Wp]
        f = {}
        for side, a in (("src", u), ("dst", v)):
            if a is None:
                continue
            f[f"{side}_in_count"] = sum(r[2] == a for r in win)
            f[f"{side}_out_count"] = sum(r[1] == a for r in win)
            f[f"{side}_in_fan"] = len({r[1] for r in win if r[2] == a and r[1] is not None})
            f[f"{side}_out_fan"] = len({r[2] for r in win if r[1] == a and r[2] is not None})
            f[f"{side}_in_amount"] = sum(float(r[3]) for r in win if r[2] == a and r[5] == cur)
            f[f"{side}_out_amount"] = sum(float(r[3]) for r in win if r[1] == a and r[5] == cur)
            f[f"{side}_count_short"] = sum(a in (r[1], r[2]) for r in prior if r[4] > t - Ws)
            ins = [r[4] for r in prior if r[2] == a]
            f[f"{side}_hours_since_in"] = t - ins[-1] if ins else np.nan
        if u is not None:
            f["pair_count"] = sum(r[1] == u and r[2] == v for r in win)
            f["cycles_2"] = sum(r[1] == v and r[2] == u for r in pwin)
            edges = [r for r in pwin if r[1] is not None and r[1] != r[2]]
            for L in range(3, s.max_cycle_length + 1):  # paths v -> ... -> u of L - 1 edges, increasing order
                count = 0
                for path in permutations(range(len(edges)), L - 1):
                    if list(path) != sorted(path):
                        continue
                    es = [edges[i] for i in path]
                    nodes = [es[0][1]] + [e[2] for e in es]
                    if es[0][1] == v and es[-1][2] == u and all(es[k][2] == es[k + 1][1] for k in range(L - 2)) and len(set(nodes)) == L:
                        count += 1
                f[f"cycles_{L}"] = count
            # scatter-gather: paths s -> m' -> v closed in the window up to this one, each within Wp
            best = 0
            closed = [(i, r) for i, r in enumerate(rows[: q + 1]) if r[4] > t - Wp and r[1] is not None and r[2] == v]
            sources = {r[1] for r in pwin if r[2] == u and r[1] not in (None, u, v)}
            for sx in sources:
                mids = {r2[1] for i2, r2 in closed
                        if any(r1[1] == sx and r1[2] == r2[1] and r1[4] > r2[4] - Wp for r1 in rows[:i2]) and r2[1] not in (sx, v)}  # fmt: skip
                best = max(best, len(mids))
            f["scatter_gather"] = best
        out[tid] = f
    return out


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_vectorised_features_match_the_naive_definitions(rows):
    s = FeatureSettings(window_hours=20, short_window_hours=6, pattern_window_hours=30, max_cycle_length=4, max_branch=1024)
    X = transaction_features(table(rows, unit=HOUR), s)
    ref = naive(rows, s)
    for tid, f in ref.items():
        for name, want in f.items():
            got = X.loc[tid, name]
            assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want), (tid, name, got, want)


@settings(max_examples=40, deadline=None)
@given(graphs(max_rows=14), graphs(max_rows=6))
def test_appending_later_rows_never_changes_earlier_features(rows, later):
    later = [(f"u{i:02d}", *r[1:4], 61 + r[4], r[5]) for i, r in enumerate(later)]  # strictly after every row
    s = FeatureSettings(window_hours=20, pattern_window_hours=30)
    first = transaction_features(table(rows, unit=HOUR), s)
    both = transaction_features(table(rows + later, unit=HOUR), s)
    pd.testing.assert_frame_equal(first, both.loc[first.index])
