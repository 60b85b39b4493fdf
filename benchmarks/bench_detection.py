"""Detection quality on data the rules were not written alongside (issue 15).

Three labelled sources, each scored with the typology rules and measured with
:func:`followmoney.evaluate.evaluate` (pattern recall, subject precision, transaction
precision = the share of an alert's evidence that belongs to a pattern of its typology or of
one whose structure contains it, :data:`followmoney.evaluate.CONTAINED_IN`: a gather-scatter's
gathering half is a fan-in, its hub a pass-through account; beside it ``txn_precision_own``,
the share in patterns of its own typology, and ``txn_precision_any``, of any typology):

* **AMLworld-style** (:func:`followmoney.datasets.amlworld.make_amlworld`, written to the
  published AMLworld pattern definitions, apart from ``synth``): ``AMLWORLD`` sizes and
  seed, default configuration, every rule. Defaults were tuned on seed 0 only; the same
  figures on the held-out seeds ``HELD_OUT_SEEDS`` (``amlworld_held_out``) say whether
  the tuning holds on data it was not tuned on. Not observable as their typology: gather-scatters whose
  random split (a Dirichlet draw over 4-8 receivers) sends 93-95 % of the outflow to one receiver and
  3 to 2,945 to the others (seed 1 ``gather_scatter#049``, seed 3 ``gather_scatter#031``; 2 of the 100
  of seeds 0-9): a gathering passed on to one account, not scattered to k receivers of material size
  (catalogue ML-08). Exception: ML-05/06's K, window and
  newness tests (issue 15, second pass) were chosen looking at seeds 0-4, with
  make_transactions seeds 0-1 as the precision constraint; seeds 5-9 were held out
  (recall 0.9-1.0 on each, catalogue ML-05/06) and AMLSim was not looked at; their like-with-like floor
  (``min_payment_fraction``, 0.05 x T, derived from the value test, not tuned) was measured on seeds 0-9
  after the held-out misses were read, so no ML-05/06 seed is held out since. Besides the per-typology figures: the alerts
  of FL-01, FL-02 and ML-04 on the remittance look-alike (migrant workers and the
  licensed remitters; every one is a false positive), and precision at the top
  20 / 50 / 100 alerts ranked as :func:`followmoney.score` ranks them.
* **AMLSim** (``../shared/datasets/amlsim/transactions.csv``; skipped when absent) with
  its own parameters (``configs/amlsim.toml``), the rules of its typologies. Its
  bipartite and stack alerts have one paying account each
  (``amlsim_single_originator_patterns``): not observable as ML-10/ML-11, whose recall
  there stays 0 by decision (catalogue ML-10). ``amlsim_fan_observable``: how many of its fan-in and fan-out
  patterns put at least K of their counterparties within D days (ML-05/06's parameters there), the ceiling of a
  burst rule: 0 of 15 fan-ins (AMLSim's fixed-interval schedule spreads this sample's fan-ins over 31-561 days,
  at most 3 senders in any 30) and 4 of 15 fan-outs. ML-05/06 recall there beyond that ceiling comes from the
  hubs' ordinary activity, not from the pattern (``recall_evidence``, ``txn_precision``).
* **make_transactions** (``SYNTH`` sizes and seed): recall of every injected typology,
  which must stay 1.0. Its velocity spikes also contain fan-in and fan-out bursts
  (``SYNTH_ALSO_CONTAINED_IN``): ML-05/06 transaction precision there counts them, the
  figures by ``CONTAINED_IN`` alone beside it (``synth_txn_precision_definitions``).

``BEFORE`` holds the figures measured with the same sizes and seeds on the code before
issue 15 (commit 70c29ab), printed side by side with the current ones; its transaction
precision is the own-typology figure (compare it with ``txn_precision_own``).
Usage: ``python benchmarks/run.py --only detection``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; a git worktree under <project>/wt/<name> finds <project>/shared
SHARED = next((p for p in (ROOT.parent / "shared", ROOT.parents[1] / "shared") if p.is_dir()), ROOT.parent / "shared")
AMLSIM = SHARED / "datasets" / "amlsim" / "transactions.csv"
AMLSIM_CONFIG = ROOT / "configs" / "amlsim.toml"
AMLWORLD = {"n_accounts": 1000, "n_days": 90, "n_per_pattern": 10, "n_migrants": 40, "random_state": 0}
#: AMLworld seeds nothing was tuned on ("tune on one, report on the others")
HELD_OUT_SEEDS = (1, 2)
SYNTH = {"n_accounts": 2000, "n_days": 150, "n_per_typology": 3, "random_state": 0}
#: AMLSim typologies' rules (evaluate.AMLSIM_TYPOLOGIES) plus pass-through
AMLSIM_RULES = ["ML-04", "ML-05", "ML-06", "ML-07", "ML-08", "ML-09", "ML-10", "ML-11"]
DECOY_RULES = ("FL-01", "FL-02", "ML-04")
#: make_transactions typologies whose rules issue 15 changed (their precision is printed too)
SYNTH_SHOWN = ("ML-04", "ML-05", "ML-06", "ML-07", "ML-08", "ML-09", "ML-15", "FL-01", "FL-02", "HT-09")
#: make_transactions only, added to CONTAINED_IN there: its velocity spike (ML-18) is 45-60 transfers in and out
#: with 10-20 counterparties within 5-7 days, so each of its patterns holds a fan-in and a fan-out burst of distinct
#: counterparties (datasets/synth ``_ml18``); velocity spikes in general need not (CONTAINED_IN's "Not containers").
#: The figures by CONTAINED_IN alone are printed beside them (``synth_txn_precision_definitions``).
SYNTH_ALSO_CONTAINED_IN = {"ML-05": {"ML-18"}, "ML-06": {"ML-18"}}
TOP_K = (20, 50, 100)

#: Measured on commit 70c29ab (before issue 15) with the sizes and seeds above (AMLSim with that commit's
#: configs/amlsim.toml): per typology [recall, subject precision, transaction precision].
BEFORE: dict = {
    "amlworld_metrics": {
        "ML-01": [
            1.0,
            1.0,
            1.0
        ],
        "ML-04": [
            0.0,
            1.0,
            0.0
        ],
        "ML-05": [
            0.7,
            0.952,
            0.373
        ],
        "ML-06": [
            0.6,
            1.0,
            0.371
        ],
        "ML-07": [
            0.8,
            1.0,
            1.0
        ],
        "ML-08": [
            0.9,
            1.0,
            0.6
        ],
        "ML-09": [
            0.5,
            1.0,
            1.0
        ],
        "ML-10": [
            1.0,
            1.0,
            0.598
        ],
        "ML-11": [
            0.1,
            1.0,
            1.0
        ]
    },
    "amlworld_remittance_decoy_alerts": {
        "FL-01": 36,
        "FL-02": 0,
        "ML-04": 0
    },
    "amlworld_ranking": {
        "precision_at_20": 0.35,
        "precision_at_50": 0.6,
        "precision_at_100": 0.66,
        "ranked": 133,
        "tied_at_top": 14
    },
    "amlsim_metrics": {
        "ML-05": [
            0.533,
            0.271,
            0.001
        ],
        "ML-06": [
            1.0,
            0.185,
            0.009
        ],
        "ML-07": [
            0.933,
            1.0,
            1.0
        ],
        "ML-08": [
            0.0,
            0.0,
            0.0
        ],
        "ML-09": [
            0.0,
            None,
            None
        ],
        "ML-10": [
            0.0,
            None,
            None
        ],
        "ML-11": [
            0.0,
            None,
            None
        ]
    },
    "synth_min_recall": 1.0,
    "synth_metrics": {
        "FL-01": [
            1.0,
            0.929,
            0.394
        ],
        "FL-02": [
            1.0,
            0.71,
            0.796
        ],
        "HT-09": [
            1.0,
            1.0,
            0.931
        ],
        "ML-04": [
            1.0,
            0.875,
            0.414
        ],
        "ML-05": [
            1.0,
            0.909,
            0.237
        ],
        "ML-06": [
            1.0,
            1.0,
            0.303
        ],
        "ML-08": [
            1.0,
            0.947,
            0.162
        ],
        "ML-09": [
            1.0,
            1.0,
            1.0
        ]
    }
}


def _r(v, n=3):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), n)


def _per_typology(alerts, truth, only=None, **kw) -> dict:
    from followmoney.evaluate import evaluate

    m = evaluate(alerts, truth, **kw)
    out = {}
    for r in m.to_dict("records"):
        k = r["typology"]
        if only is not None and k not in only:
            continue
        if r["patterns"] == 0 and k != "(all)":
            continue
        out[k] = {"patterns": r["patterns"], "recall": _r(r["recall"]), "subject_precision": _r(r["subject_precision"]),
                  "txn_precision": _r(r["txn_precision"]),
                  "txn_precision_own": _r(r["txn_precision_own"]), "txn_precision_any": _r(r["txn_precision_any"]),
                  "alerts": r["alerts"]}  # fmt: skip
    return out


def _top_k(alerts, truth) -> dict:
    """Precision at the top 20 / 50 / 100 cases (build_cases ranking), and ties at the top."""
    from followmoney.detect.cases import build_cases

    try:
        from followmoney.evaluate import precision_at_k
    except ImportError:  # the code before issue 15
        return {}
    return precision_at_k(build_cases(alerts), truth, TOP_K)


def _amlworld_run(params: dict) -> dict:
    import followmoney as fm
    from followmoney.datasets.amlworld import PATTERNS, make_amlworld

    t = time.perf_counter()
    bundle, truth = make_amlworld(**params)
    gen = time.perf_counter() - t
    t = time.perf_counter()
    alerts = fm.score(bundle, fm.Config(), progress=False)
    score_s = time.perf_counter() - t
    a = alerts.select(["rule_id", "subject_id"]).to_pandas()
    decoy = a[a["rule_id"].isin(DECOY_RULES) & a["subject_id"].str.match(r"AW/(W|R)\d")]
    return {
        "rows": bundle.transactions.num_rows,
        "generate_seconds": round(gen, 2),
        "score_seconds": round(score_s, 2),
        "metrics": _per_typology(alerts, truth, only=set(PATTERNS.values())),
        "remittance_decoy_alerts": {r: int((decoy["rule_id"] == r).sum()) for r in DECOY_RULES},
        "ranking": _top_k(alerts, truth),
    }


def _amlworld() -> dict:
    r = _amlworld_run(AMLWORLD)
    out = {"amlworld_params": AMLWORLD} | {f"amlworld_{k}": v for k, v in r.items()}
    out["amlworld_held_out"] = {}
    for seed in HELD_OUT_SEEDS:
        h = _amlworld_run(AMLWORLD | {"random_state": seed})
        out["amlworld_held_out"][seed] = {k: h[k] for k in ("metrics", "remittance_decoy_alerts", "ranking")}
    return out


def _one_originator(bundle, truth) -> dict:
    """Per typology, how many labelled patterns have a single paying account (AMLSim emits its bipartite and
    stack alerts from the main account only: not observable as several originators; catalogue ML-10/ML-11)."""
    t = truth.to_pandas()
    t = t[t["txn_id"].notna()]
    payer = bundle.transactions.select(["txn_id", "from_account"]).to_pandas().set_index("txn_id")["from_account"]
    n = t.assign(payer=payer.reindex(t["txn_id"]).to_numpy()).groupby(["typology", "pattern_id"])["payer"].nunique()
    one = (n == 1).groupby(level="typology").sum()
    return {k: f"{int(one[k])} of {int((n.index.get_level_values(0) == k).sum())}" for k in ("ML-10", "ML-11") if k in one}


def _fan_observable(bundle, truth, rules: dict) -> dict:
    """Per fan typology (ML-05, ML-06), how many labelled patterns are observable as a burst: at least K of the
    pattern's own counterparties of its subject (the labelled hub) within D days (K = ``min_counterparties``,
    D = ``window_days`` of ``rules``, the rule's parameters), and the most each pattern puts in one such window.

    The ceiling of any rule that looks for K distinct counterparties within D days, whatever else the account
    does. On ../shared/datasets/amlsim (configs/amlsim.toml: K = 5, D = 30) none of the 15 fan-ins (AMLSim's
    FanInTypology, schedule 2 = fixed interval: its n senders one every (alert range) / n steps; this sample's
    alerts range over the whole simulation, alert_accounts.csv start 0, end 1,000,000, so one sender every
    10-112 days, at most 3 in 30 days) and 4 of the 15 fan-outs (random steps over up to 420 days)."""
    import pandas as pd

    t = truth.to_pandas()
    tx = bundle.transactions.select(["txn_id", "from_account", "to_account", "timestamp"]).to_pandas().set_index("txn_id")
    out = {}
    for rule, hub_col, member_col in (("ML-05", "to_account", "from_account"), ("ML-06", "from_account", "to_account")):
        p = rules.get(rule, {})
        if rule not in set(t["typology"]) or "min_counterparties" not in p:
            continue
        k, window = int(p["min_counterparties"]), pd.Timedelta(days=float(p["window_days"]))
        mine = t[t["typology"] == rule]
        hubs = mine[mine["is_subject"].eq(True)].groupby("pattern_id")["account_id"].agg(set)
        most = []
        for pid, g in mine[mine["txn_id"].notna()].groupby("pattern_id", sort=True):
            e = tx.reindex(g["txn_id"])
            e = e[e[hub_col].isin(hubs.get(pid, set()))].sort_values("timestamp")
            ts, who = e["timestamp"].to_numpy(), e[member_col].to_numpy()
            most.append(max((len(set(who[(ts >= t0) & (ts < t0 + window)])) for t0 in ts), default=0))
        out[rule] = {"patterns": len(most), "reach_k_within_d": sum(m >= k for m in most), "k": k,
                     "window_days": float(p["window_days"]), "most_in_one_window": sorted(most)}  # fmt: skip
    return out


def _amlsim() -> dict:
    import followmoney as fm
    from followmoney.detect.rules._registry import REGISTRY
    from followmoney.evaluate import truth_from_labels

    if not AMLSIM.is_file():
        return {"amlsim": "skipped: ../shared/datasets/amlsim/transactions.csv not present"}
    bundle = fm.read(AMLSIM, progress=False)
    truth = truth_from_labels(bundle)
    t = time.perf_counter()
    config = fm.Config.from_toml(AMLSIM_CONFIG)
    alerts = fm.score(bundle, config, rules=AMLSIM_RULES, progress=False)
    return {
        "amlsim_rows": bundle.transactions.num_rows,
        "amlsim_score_seconds": round(time.perf_counter() - t, 2),
        "amlsim_metrics": _per_typology(alerts, truth, only=set(AMLSIM_RULES)),
        "amlsim_single_originator_patterns": _one_originator(bundle, truth),
        "amlsim_fan_observable": _fan_observable(bundle, truth, {r: REGISTRY[r].resolve_params(config.rule_params(r))
                                                                  for r in ("ML-05", "ML-06")}),  # fmt: skip
    }


def _synth() -> dict:
    import followmoney as fm
    from followmoney.datasets.synth import make_transactions
    from followmoney.evaluate import CONTAINED_IN, evaluate

    bundle, truth = make_transactions(**SYNTH)
    alerts = fm.score(bundle, progress=False)
    m = evaluate(alerts, truth)
    m = m[(m["patterns"] > 0) & (m["typology"] != "(all)")]
    contained_in = {k: set(CONTAINED_IN.get(k, ())) | SYNTH_ALSO_CONTAINED_IN.get(k, set())
                    for k in CONTAINED_IN.keys() | SYNTH_ALSO_CONTAINED_IN.keys()}  # fmt: skip
    by_definitions = m.set_index("typology")["txn_precision"]
    return {
        "synth_params": SYNTH,
        "synth_rows": bundle.transactions.num_rows,
        "synth_min_recall": _r(m["recall"].min()),
        "synth_below_1": {r["typology"]: _r(r["recall"]) for r in m.to_dict("records") if r["recall"] < 1},
        "synth_metrics": _per_typology(alerts, truth, only=set(SYNTH_SHOWN), contained_in=contained_in),
        "synth_txn_precision_definitions": {k: _r(by_definitions.get(k)) for k in sorted(SYNTH_ALSO_CONTAINED_IN)},
    }


def run(repeat: int = 1) -> dict:
    """Measure; return the figures (printed and saved by ``benchmarks/run.py``); ``repeat`` is unused (one run)."""
    t0 = time.perf_counter()
    out = {"benchmark": "detection quality on independent data (AMLworld-style, AMLSim) and make_transactions"}
    out.update(_amlworld())
    out.update(_amlsim())
    out.update(_synth())
    if BEFORE:
        out["before_70c29ab"] = BEFORE
    out["bench_seconds"] = round(time.perf_counter() - t0, 1)
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=2))
