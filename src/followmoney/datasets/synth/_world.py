"""The synthetic bank world being generated: accounts, parties, places, the calendar.

:class:`_World` holds every account's kind, region, country, bank and opening day, the
parties (holders, plus persons without accounts), and the transaction buffer; it hands
out persons' accounts to patterns (each used by one pattern only) and innocent
counterparties, and records each pattern's members for the truth table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from followmoney.core.config import jurisdictions
from followmoney.datasets.synth._columns import _Txns, _Vocab
from followmoney.datasets.synth._reference import (
    _AD_SITE_COUNTRIES,
    _BIZ_A,
    _BIZ_B,
    _EMPLOYER,
    _FAMILY,
    _FOREIGN,
    _FX_PER_USD,
    _GIVEN,
    _GOV,
    _MCCS,
    _MERCHANT,
    _N_BORDER,
    _N_REGIONS,
    _PERSON,
    _PROPERTY,
    _REMIT_COUNTRIES,
    _STREETS,
    _UTILITY,
)


@dataclass
class _Pattern:
    typology: str
    pattern_id: str
    members: list = field(default_factory=list)  # (account or -1, party or -1, role, is_subject)


class _World:
    """The synthetic bank world being generated (accounts, parties, places, transactions)."""

    def __init__(self, n_accounts, n_days, jurisdiction, start, rng):
        self.rng = rng
        self.n = n_accounts
        self.n_days = n_days
        self.j = jurisdictions()[jurisdiction]
        self.jcode = jurisdiction
        self.home = jurisdiction if len(jurisdiction) == 2 else "ZZ"
        self.currency = self.j.currency
        self.T = int(self.j.cash_threshold * 100)  # threshold, cents
        self.fx = _FX_PER_USD.get(self.currency, float(self.j.cash_threshold) / 10_000)
        self.whole = self.fx >= 50  # currencies without practical cents
        self.unit = 10 ** max(0, math.floor(math.log10(self.fx)))  # "round" unit, major
        self.start = start
        self.tag = f"{int(rng.integers(0, 2**62)):016x}"[-12:]
        self.tx = _Txns()
        self.desc = _Vocab()
        self.patterns: list[_Pattern] = []
        self._day_offsets(n_days)

    # ------------------------------------------------------------------ helpers
    def _day_offsets(self, n_days):
        zone = ZoneInfo(self.j.timezone)
        days = n_days + 40
        self.offset = np.array(
            [
                int(datetime.combine(self.start + timedelta(days=d), datetime.min.time().replace(hour=12), zone)
                    .utcoffset().total_seconds() // 60)  # fmt: skip
                for d in range(-5, days)
            ],
            np.int64,
        )
        self.epoch_day = (self.start - date(1970, 1, 1)).days

    def usd(self, x) -> np.ndarray:
        """USD amounts → cents of the local currency (plausible magnitudes only)."""
        v = np.asarray(x, np.float64) * self.fx
        return (np.round(v) * 100 if self.whole else np.round(v * 100)).astype(np.int64)

    def from_currency(self, x, cur: str) -> np.ndarray:
        """Amounts stated in ``cur`` (a source's own figure) → local cents."""
        rate = self.fx / _FX_PER_USD.get(cur, 1.0)
        v = np.asarray(x, np.float64) * rate
        return (np.round(v) * 100 if self.whole else np.round(v * 100)).astype(np.int64)

    def of_T(self, lo, hi, size, round_to=None) -> np.ndarray:
        """Uniform fractions of the threshold T, in cents, optionally rounded to ``round_to`` major units."""
        c = self.rng.uniform(lo, hi, size) * self.T
        unit = (round_to or 1) * 100
        return (np.floor(c / unit) * unit).astype(np.int64)

    def hours(self, size, lo, hi) -> np.ndarray:
        return self.rng.uniform(lo, hi, size)

    def window(self, duration, lo=0) -> int:
        """A start day so that [start, start + duration] fits in the window."""
        hi = max(lo, self.n_days - 1 - int(math.ceil(duration)))
        return int(self.rng.integers(lo, hi + 1))

    def new_pattern(self, tid: str) -> int:
        k = sum(p.typology == tid for p in self.patterns) + 1
        self.patterns.append(_Pattern(tid, f"{tid}#{k:02d}"))
        return len(self.patterns) - 1

    def member(self, p, accounts, role, is_subject):
        for a in np.atleast_1d(accounts):
            a = int(a)
            party = int(self.holder[a]) if a >= 0 else -1
            self.patterns[p].members.append((a, party, role, bool(is_subject)))

    def member_party(self, p, parties, role, is_subject=False):
        for q in np.atleast_1d(parties):
            self.patterns[p].members.append((-1, int(q), role, bool(is_subject)))

    # ------------------------------------------------------------------ accounts
    def build_accounts(self, n_foreign_extra: int):
        rng, n = self.rng, self.n
        n_foreign = max(8, round(0.02 * n)) + n_foreign_extra
        n_util = max(3, round(0.003 * n))
        n_prop = max(2, round(0.005 * n))
        n_emp = max(4, round(0.025 * n))
        n_merch = max(len(_MCCS) + 2 * _N_REGIONS, round(0.04 * n))
        n_persons = n - n_foreign - n_util - n_prop - n_emp - n_merch - 1
        if n_persons < 0.5 * n:
            raise ValueError(f"n_accounts={n} is too small for the injected patterns; use at least {2 * (n - n_persons)}")
        kinds = np.concatenate([
            np.full(n_persons, _PERSON), np.full(n_emp, _EMPLOYER), np.full(n_merch, _MERCHANT),
            np.full(n_util, _UTILITY), np.full(n_prop, _PROPERTY), np.full(1, _GOV), np.full(n_foreign, _FOREIGN),
        ])  # fmt: skip
        kinds = kinds[rng.permutation(n)]
        self.kind = kinds
        self.persons = np.flatnonzero(kinds == _PERSON)
        self.employers = np.flatnonzero(kinds == _EMPLOYER)
        self.merchants = np.flatnonzero(kinds == _MERCHANT)
        self.utilities = np.flatnonzero(kinds == _UTILITY)
        self.props = np.flatnonzero(kinds == _PROPERTY)
        self.gov = int(np.flatnonzero(kinds == _GOV)[0])
        self.foreign = np.flatnonzero(kinds == _FOREIGN)
        # regions: population skewed to the first ones; border regions are small
        w = np.r_[np.linspace(3, 1, _N_REGIONS - _N_BORDER), np.full(_N_BORDER, 0.6)]
        self.region = rng.choice(_N_REGIONS, n, p=w / w.sum())
        self.country = np.array([self.home] * n, dtype=object)
        codes, weights = zip(*_REMIT_COUNTRIES)
        weights = np.array(weights, float)
        self.country[self.foreign] = rng.choice(codes, len(self.foreign), p=weights / weights.sum())
        self.foreign_free = list(self.foreign[rng.permutation(len(self.foreign))])
        self.nationality = {}  # account index -> nationality of its holder, where not the account's country
        # opened: years before the window; about 4 % of persons open during it
        self.opened_day = -rng.integers(180, 15 * 365, n)
        new = self.persons[rng.random(len(self.persons)) < 0.04]
        self.opened_day[new] = rng.integers(0, max(1, self.n_days - 5), len(new))
        # merchants: MCC by share; every region gets hotels and taxis
        mcc_codes = [m[0] for m in _MCCS]
        share = np.array([m[2] for m in _MCCS])
        m_mcc = rng.choice(len(_MCCS), len(self.merchants), p=share / share.sum())
        hotel, taxi = mcc_codes.index("7011"), mcc_codes.index("4121")
        m_mcc[: _N_REGIONS] = hotel
        m_mcc[_N_REGIONS : 2 * _N_REGIONS] = taxi
        m_mcc[2 * _N_REGIONS : 2 * _N_REGIONS + len(_MCCS)] = np.arange(len(_MCCS))  # every MCC exists
        self.merchant_mcc = np.full(n, -1)
        self.merchant_mcc[self.merchants] = m_mcc
        self.region[self.merchants[: 2 * _N_REGIONS]] = np.tile(np.arange(_N_REGIONS), 2)
        self.popularity = rng.lognormal(0, 1, n)
        self.online = np.zeros(n, bool)
        self.online[self.merchants] = np.array([_MCCS[i][7] for i in m_mcc])
        # ad sites (HT-01): a few online MCC 7273 merchants abroad
        dating = self.merchants[m_mcc == mcc_codes.index("7273")]
        extra = [self.foreign_free.pop() for _ in range(min(3, len(self.foreign_free)))]
        for k, a in enumerate(extra):
            self.kind[a] = _MERCHANT
            self.merchant_mcc[a] = mcc_codes.index("7273")
            self.country[a] = _AD_SITE_COUNTRIES[k % len(_AD_SITE_COUNTRIES)]
            self.online[a] = True
        self.ad_sites = np.array(extra, np.int64)
        self.dating = dating
        self.merchants = np.flatnonzero(self.kind == _MERCHANT)
        self.foreign = np.array([a for a in self.foreign if self.kind[a] == _FOREIGN], np.int64)
        # bars that deposit their takings after midnight at a branch night safe
        bar = mcc_codes.index("5813")
        bars = self.merchants[self.merchant_mcc[self.merchants] == bar]
        self.night_bars = bars[: max(1, len(bars) // 3)] if len(bars) else bars
        # institutions: five domestic banks; foreign banks by country
        self.bank = rng.integers(0, 5, n)
        # employers: pay schedule
        self.emp_biweekly = rng.random(n) < 0.3
        self.emp_dom = rng.integers(25, 29, n)
        self.emp_offset = rng.integers(0, 14, n)
        # pattern bookkeeping: persons drawn from the front for patterns, the back for counterparties
        self.person_order = self.persons[rng.permutation(len(self.persons))]
        self._front = 0
        self._back = len(self.person_order)
        self.quiet = np.zeros(n, bool)
        self.calm = np.zeros(n, bool)  # ordinary but not heavy background users (ML-18 baselines)
        self.used = np.zeros(n, bool)
        self.mcc_codes = mcc_codes

    def take(self, k: int, *, quiet: bool = False) -> np.ndarray:
        """``k`` persons' accounts for a pattern (each used by one pattern only)."""
        if self._front + k > len(self.person_order) // 2:
            raise ValueError(
                f"n_accounts={self.n} is too small for this many injected patterns: patterns would use more than "
                "half of the persons' accounts; raise n_accounts or lower n_per_typology"
            )
        acc = self.person_order[self._front : self._front + k]
        self._front += k
        self.used[acc] = True
        self.opened_day[acc] = np.minimum(self.opened_day[acc], -30)  # open before the pattern starts
        if quiet:
            self.quiet[acc] = True
        return acc

    def counterparties(self, k: int, *, region_spread: int = 0) -> np.ndarray:
        """``k`` distinct ordinary customers (not in any pattern) as innocent counterparties."""
        pool = self.person_order[len(self.person_order) // 2 :]
        pool = pool[self.opened_day[pool] < 0]
        if region_spread:
            out = []
            regions = self.rng.permutation(np.unique(self.region[pool]))[:region_spread]
            for r in regions:
                cand = pool[self.region[pool] == r]
                out.append(cand[self.rng.integers(0, len(cand))])
            rest = self.rng.choice(pool, k - len(out), replace=False) if k > len(out) else []
            acc = np.unique(np.r_[out, rest].astype(np.int64))
            while len(acc) < k:
                acc = np.unique(np.r_[acc, self.rng.choice(pool, k - len(acc))])
            return self.rng.permutation(acc)[:k]
        return self.rng.choice(pool, k, replace=False)

    def take_foreign(self, countries) -> int:
        a = self.foreign_free.pop()
        self.country[a] = str(self.rng.choice(list(countries)))
        self.used[a] = True
        return a

    def locations(self, region, kind: str, k: int | None = None) -> np.ndarray:
        """Location codes (index into the places table) in ``region`` of ``kind`` (ATM or BR)."""
        region = np.asarray(region)
        per = 6 if kind == "ATM" else 3
        base = 0 if kind == "ATM" else _N_REGIONS * 6
        size = region.shape if k is None else k
        return base + region * per + self.rng.integers(0, per, size)

    # ------------------------------------------------------------------ parties
    def build_parties(self):
        rng, n = self.rng, self.n
        self.holder = np.arange(n)  # party index = account index for holders
        self.extra_parties: list[tuple[str, int]] = []  # (name, region) of parties without accounts
        given = rng.integers(0, len(_GIVEN), n)
        family = rng.integers(0, len(_FAMILY), n)
        # households: consecutive persons in a shuffled order share family name and address
        order = self.persons[rng.permutation(len(self.persons))]
        sizes = rng.choice([1, 2, 3, 4], len(order), p=[0.5, 0.3, 0.13, 0.07])
        hh = np.repeat(np.arange(len(sizes)), sizes)[: len(order)]
        self.household = np.full(n, -1)
        self.household[order] = hh
        first = np.r_[0, np.flatnonzero(np.diff(hh)) + 1]
        self.head = np.zeros(n, bool)
        self.head[order[first]] = True
        family[order] = family[order[first]][hh]
        self.given, self.family = given, family
        addr = rng.integers(1, 999, n)
        street = rng.integers(0, len(_STREETS), n)
        address_key = np.arange(n)
        address_key[order] = order[first][hh]
        # flat-shares: a few unrelated persons (different family names) share an address
        n_flats = max(1, len(order) // 150)
        flat_members = rng.choice(order, (n_flats, 3), replace=False)
        for fm_ in flat_members:
            size = 2 if rng.random() < 0.7 else 3
            address_key[fm_[:size]] = address_key[fm_[0]]
        self.address_key = address_key
        self.addr_no, self.street = addr, street
        self.phone = rng.integers(10**8, 10**9, n)
        self.phone_of = np.arange(n)  # whose phone the party states
        self.has_email = rng.random(n) < 0.6
        names = np.empty(n, dtype=object)
        person = self.kind == _PERSON
        for i in np.flatnonzero(person):
            names[i] = f"{_GIVEN[given[i]]} {_FAMILY[family[i]]}"
        biz_a = rng.integers(0, len(_BIZ_A), n)
        biz_b = rng.integers(0, len(_BIZ_B), n)
        for i in np.flatnonzero(~person):
            k = self.kind[i]
            if k == _MERCHANT:
                label = _MCCS[self.merchant_mcc[i]][1]
                names[i] = f"{_BIZ_A[biz_a[i]].upper()} {label} {i % 1000:03d}"
            elif k == _UTILITY:
                names[i] = f"{_BIZ_A[biz_a[i]]} {('Power', 'Water', 'Gas', 'Telecom', 'Internet')[i % 5]} Co"
            elif k == _PROPERTY:
                names[i] = f"{_BIZ_A[biz_a[i]]} Property Management"
            elif k == _GOV:
                names[i] = "Department of Social Services"
            elif k == _FOREIGN:
                names[i] = f"{_GIVEN[given[i]]} {_FAMILY[family[i]]}"
            else:
                names[i] = f"{_BIZ_A[biz_a[i]]} {_BIZ_B[biz_b[i]]} Ltd"
        for k, a in enumerate(self.ad_sites):
            names[a] = ("VELVETLIST ADS", "NIGHTPAGES ONLINE", "AFTERDARK CLASSIFIEDS")[k % 3]
        self.names = names

    def new_party(self, region=0) -> int:
        """A person without an account (cash conductor, worker paid into another account)."""
        i = self.n + len(self.extra_parties)
        name = f"{_GIVEN[self.rng.integers(len(_GIVEN))]} {_FAMILY[self.rng.integers(len(_FAMILY))]}"
        self.extra_parties.append((name, int(region)))
        return i

    # ------------------------------------------------------------------ calendar
    def month_days(self, dom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For owners with a fixed day of month ``dom``: (owner position, day index) in the window."""
        firsts = []
        d = date(self.start.year, self.start.month, 1)
        end = self.start + timedelta(days=self.n_days)
        while d < end:
            firsts.append((d - self.start).days)
            d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        firsts = np.array(firsts, np.int64)
        days = firsts[None, :] + (np.asarray(dom)[:, None] - 1)
        owner = np.broadcast_to(np.arange(len(dom))[:, None], days.shape)
        ok = (days >= 0) & (days < self.n_days)
        return owner[ok], days[ok]

    def paydays(self, employer: int) -> np.ndarray:
        if self.emp_biweekly[employer]:
            return np.arange(self.emp_offset[employer], self.n_days, 14)
        _, days = self.month_days(np.array([self.emp_dom[employer]]))
        return days
