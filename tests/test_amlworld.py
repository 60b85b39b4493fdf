"""The independent AMLworld-style generator (issue 15): every seed runs and places every pattern at its declared size."""

from __future__ import annotations

import pytest

from followmoney.datasets.amlworld import PATTERNS, make_amlworld
from followmoney.exceptions import ParameterError

#: Smallest number of accounts per pattern, from the module's table (fan: hub + 5; scatter-gather: 2 ends + 4;
#: gather-scatter: hub + 4 + 4; cycle 3; bipartite 3 + 3; stack 3 tiers of 2; pass-through and structuring 1)
MIN_ACCOUNTS = {"ML-05": 6, "ML-06": 6, "ML-07": 6, "ML-08": 9, "ML-09": 3, "ML-10": 6, "ML-11": 6, "ML-04": 1, "ML-01": 1}


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_every_seed_places_every_pattern_at_its_size(seed):
    bundle, truth = make_amlworld(n_accounts=1000, n_days=90, n_per_pattern=10, random_state=seed)
    t = truth.to_pandas()
    assert t.groupby("typology")["pattern_id"].nunique().to_dict() == dict.fromkeys(PATTERNS.values(), 10)
    accounts = t[t["account_id"].notna()]
    # patterns share no account (each is placed among accounts no other pattern uses)
    assert not accounts["account_id"].duplicated().any()
    smallest = accounts.groupby(["typology", "pattern_id"]).size().groupby("typology").min()
    for typology, n in MIN_ACCOUNTS.items():
        assert smallest[typology] >= n, typology
    assert bundle.transactions.num_rows > 60_000


def test_too_few_accounts_for_the_patterns_is_a_parameter_error():
    with pytest.raises(ParameterError, match="too few"):
        make_amlworld(n_accounts=100, n_days=45, n_per_pattern=10, n_migrants=0)
