"""Synthetic transactions with injected typologies and ground truth: :func:`make_transactions`.

In the style of scikit-learn's ``make_*`` generators: one call returns a canonical
:class:`~followmoney.Bundle` of realistic background banking behaviour with laundering
and trafficking patterns injected into it, and a ground-truth table naming the
accounts and transactions of every injected pattern. Used by the tests, the demo and
the benchmarks; everything is seeded and deterministic.

Background (the decoys a rule has to tell apart from the patterns)
------------------------------------------------------------------
* **Employers** pay monthly or fortnightly salaries (``is_payroll``) to their
  employees: a legitimate fan-out of up to hundreds of accounts on payday.
* A **government** account pays pensions and benefits to every person without a
  salary: the largest fan-out.
* **Merchants** (ISO 18245 MCC in ``merchant_category``) take card payments from
  thousands of customers: a legitimate, steady fan-in. Cash-heavy merchants
  (groceries, restaurants, bars, salons, fuel) deposit their takings in cash weekly;
  a third of the bars do so after midnight at a branch night safe.
* **Property managers** and private **landlords** collect rent; **utilities** collect
  monthly bills: steady fan-in.
* **Persons** (one per household) pay rent (25-40 % of their income) and bills, spend
  by card (everyday merchants; occasional trips with a ticket, a hotel stay and taxis; some heavy ride-share users and business
  travellers), send person-to-person transfers within a circle of contacts, withdraw
  cash at ATMs (round amounts, a few at night), deposit cash now and then (well below
  the reporting threshold), and some send remittances abroad or receive transfers
  from abroad. About 4 % of accounts are opened during the window.
* **Businesses** pay each other invoices (often round amounts) and buy advertising.
* **Parties and identifiers**: every account has a holder party; persons have a
  phone, an address and often an e-mail. Households share an address and a family
  name (a declared tie); a few flat-shares share an address across family names.

Injected typologies
-------------------
One pattern is a small set of accounts and the transactions among them, built so that
it *exceeds* the defaults of its catalogue row in ``shared/reference/indicators.md``
(sections 1, 2, 5, 6); see :data:`TYPOLOGIES` for each one's shape and parameters.
Amounts are set relative to the jurisdiction's cash reporting threshold ``T``
(:func:`followmoney.core.config.jurisdictions`) or to a source's own figure converted into
the jurisdiction's currency with a fixed, approximate rate (synthetic magnitudes
only, never a threshold). Country lists (FATF call for action, migrant-flow
corridors) come from :func:`followmoney.core.config.country_lists`.

Extra columns
-------------
``transactions`` carries, after the canonical columns: ``location_id`` (branch
``BR-…``, ATM ``ATM-…`` or card terminal ``POS-…`` where the transaction was made in
person; null online), ``location_region`` (region of that place; for transfers the
sending account's home region), ``conductor_party`` (party who physically made a cash
deposit) and ``is_payroll`` (salary credit). ``accounts`` carries ``home_region``.
The benchmark labels ``is_laundering``, ``typology`` (catalogue id) and
``label_alert_id`` (pattern id) are filled as in AMLSim data; rules never read them.

Examples
--------
>>> import followmoney as fm
>>> bundle, truth = make_transactions(300, 60, typologies=["ML-01", "fan_in"], n_per_typology=2,
...                                   random_state=0)
>>> sorted(set(truth.column("typology").to_pylist()))
['ML-01', 'ML-05']
>>> bundle.accounts.num_rows
300
>>> bundle.transactions.schema.field("amount").type
Decimal128Type(decimal128(18, 3))
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.core.config import country_lists, jurisdictions

__all__ = ["make_transactions", "TYPOLOGIES", "Typology", "TRUTH_SCHEMA", "EXTRA_COLUMNS"]

_DAY_US = 86_400_000_000
_HOUR_US = 3_600_000_000

#: Extra (non-canonical) columns written by :func:`make_transactions`, per table.
EXTRA_COLUMNS = {
    "transactions": ("location_id", "location_region", "conductor_party", "is_payroll"),
    "accounts": ("home_region",),
}

#: Schema of the ground-truth table returned by :func:`make_transactions`.
TRUTH_SCHEMA = pa.schema(
    [
        pa.field("typology", pa.string(), nullable=False, metadata={"doc": "Catalogue id of the injected typology, e.g. ML-01, HT-09 (= the rule id)."}),
        pa.field("typology_name", pa.string(), metadata={"doc": "Readable name, e.g. structuring."}),
        pa.field("pattern_id", pa.string(), metadata={"doc": "Injected pattern, e.g. ML-01#01."}),
        pa.field("account_id", pa.string(), metadata={"doc": "Account of the pattern (account rows); null on transaction rows."}),
        pa.field("party_id", pa.string(), metadata={"doc": "Party of the pattern: the account's holder, or a party without an account (conductor, worker)."}),
        pa.field("role", pa.string(), metadata={"doc": "subject | member | controller | victim | conductor | counterparty on account rows; transaction on transaction rows."}),
        pa.field("is_subject", pa.bool_(), metadata={"doc": "A rule for this typology should alert on this account/party."}),
        pa.field("txn_id", pa.string(), metadata={"doc": "transactions.txn_id of the pattern (transaction rows); null on account rows."}),
        pa.field("timestamp", schema.TIMESTAMP, metadata={"doc": "Time of the transaction (transaction rows), UTC."}),
    ]
)


@dataclass(frozen=True)
class Typology:
    """An injectable typology.

    Attributes
    ----------
    id : str
        Catalogue id (``shared/reference/indicators.md``), used as the rule id.
    name : str
        Readable name (``typology_name`` in the truth table).
    min_days : int
        Shortest ``n_days`` the pattern fits into.
    shape : str
        What is injected, with the parameters used and the catalogue defaults they exceed.
    """

    id: str
    name: str
    min_days: int
    shape: str


def _t(id_, name, min_days, shape):
    return Typology(id_, name, min_days, " ".join(shape.split()))


#: Injectable typologies by catalogue id, in generation order.
TYPOLOGIES: dict[str, Typology] = {
    t.id: t
    for t in [
        _t("ML-01", "structuring", 14, """Subject (an ordinary customer) makes 4-6 branch cash deposits within 5 days,
           each in [0.85 T, 0.99 T) of the threshold T; a second burst 10+ days later when the window allows.
           Catalogue ML-01 (b): >= 3 in 7 days in [0.8 T, T)."""),
        _t("ML-02", "smurfing", 14, """On 2-3 days, 4-6 cash deposits into the subject by 4-6 distinct conductors
           (parties without accounts; `conductor_party`, `from_party`) at 4+ distinct branches/ATMs, each in
           [0.25 T, 0.45 T), day total >= T. Catalogue ML-02: >= 3 places or >= 3 conductors a day, total >= 0.8 T."""),
        _t("ML-03", "funnel_account", 30, """Twice, 10-13 days apart: within 4 days 3-5 cash deposits of [0.15 T, 0.35 T] by
           2-3 conductors at branches in 3-5 regions other than the account's home region; 12-48 hours after the last,
           85-95 % of it withdrawn in cash, each below T, at branches of a region where nothing was paid in. Catalogue
           ML-03: >= 3 deposits outside the home region in 30 days, >= 70 % out elsewhere within 72 h."""),
        _t("ML-04", "pass_through", 30, """Mule account (no other activity) gets 3 inflows of [0.6 T, 1.5 T] 4-9 days apart
           from 2 source accounts; 95-99 % of each leaves within 2-30 hours to 1-2 accounts. Catalogue ML-04:
           inflow >= 0.5 T, >= 90 % out within 48 h, repeated."""),
        _t("ML-05", "fan_in", 14, """11-14 distinct member accounts each pay the subject [0.05 T, 0.2 T] within 6 days;
           80-95 % of it leaves in 1-2 transfers to another member 1-5 days later. Catalogue ML-05: >= 10 in 7 days
           (AMLSim demo >= 5 in 30 days)."""),
        _t("ML-06", "fan_out", 14, """Subject receives [1 T, 2.5 T] from a member, then pays 11-14 distinct members
           within 6 days, 85-95 % of it. Catalogue ML-06: as ML-05."""),
        _t("ML-07", "scatter_gather", 14, """Source pays 5-6 intermediaries [0.3 T, 0.8 T] each within 2 days; each passes
           92-97 % (margin < 10 %) to one collector 1-4 days after receipt; all within 8 days. Source and collector are
           subjects. Catalogue ML-07: k >= 3, margin 0.1, 14 days."""),
        _t("ML-08", "gather_scatter", 14, """4-6 senders pay the hub [0.15 T, 0.5 T] within 4 days; the hub pays 4-6
           receivers 88-95 % of the total in days 4-9. Catalogue ML-08: in and out degree >= 3 within 14 days,
           >= 80 % passed on."""),
        _t("ML-09", "cycle", 21, """Cycle of 4-6 accounts (all subjects): [0.5 T, 2 T] goes round, each hop 1-4 days after
           the previous and 95-99 % of it, closing within about 20 days. Catalogue ML-09: length <= 6, 30 days, >= 70 %
           returned."""),
        _t("ML-10", "bipartite", 14, """3 originators each pay each of 3 beneficiaries (density 1) within 10 days,
           [0.1 T, 0.3 T] each; all 6 are subjects (shell / mule accounts with no other activity). Catalogue
           ML-10: m, n >= 2, density >= 0.8, 30 days."""),
        _t("ML-11", "stack", 14, """Three tiers of 3 accounts; everyone in tier 1 pays everyone in tier 2 (days 0-3),
           tier 2 pays tier 3 (days 4-8) 95-99 % of what it got; all 9 are subjects (shell / mule accounts with no other
           activity). Catalogue ML-11: >= 3 tiers of >= 2, density >= 0.8, value kept within 10 %."""),
        _t("ML-12", "layering_chain", 14, """Chain of 6-7 accounts at different institutions: [1 T, 3 T] moves hop by hop,
           each 6-40 hours after the previous and 95-99 % of it; the last hop is a wire abroad. Domestic hops are
           subjects. Catalogue ML-12: path >= 4, <= 72 h per hop, <= 10 % lost per hop, >= 2 institutions."""),
        _t("ML-13", "high_risk_jurisdiction", 30, """Subject wires [0.1 T, 0.4 T] 4-6 times within 25 days to 2-3 accounts in
           FATF call-for-action countries (country_lists()['fatf_call_for_action']). Catalogue ML-13: any such txn, or
           >= 3 in 30 days."""),
        _t("ML-14", "dormant_then_active", 210, """Account opened years ago; 3-5 small transactions in the first 10 days, then
           silent for at least 185 days, then within 5 days inflows of [1.5 T, 3 T] and 85-95 % of it out. Catalogue
           ML-14: dormant >= 180 days, then >= 10x the pre-dormancy monthly average (VN Decree 19/2023: 6 months)."""),
        _t("ML-15", "shared_identifier", 30, """3-4 persons from different households (different family names and
           addresses, no declared tie) state one phone number, that of a mule herder among them, and pay the herder a
           fee of [0.02 T, 0.05 T] once; their accounts otherwise behave normally. All are subjects. Catalogue ML-15: >= 3 parties on one identifier."""),
        _t("ML-17", "secondary_threshold", 30, """Twice, 10-13 days apart: 4-6 wires within 6 days, each in [0.86 T2, 0.995 T2)
           of the jurisdiction's secondary (record-keeping) threshold T2, to 2-3 accounts; never above T2. Jurisdictions
           without a T2 skip it. Catalogue ML-17: >= 3 in 7 days in [0.85 T2, T2)."""),
        _t("ML-18", "velocity_spike", 130, """Ordinary customer with normal, not heavy, activity makes 45-60 extra transfers (in and out,
           10-20 counterparties, [0.02 T, 0.1 T]) within 5-7 days, after at least 112 days of normal history.
           Catalogue ML-18: 7-day count or value >= 5x the trailing 90-day average (z >= 3)."""),
        _t("ML-19", "new_account_throughput", 30, """Account opened in the window; within 1-20 days of opening 3-4 inflows of
           [0.8 T, 1.5 T] from 2 sources, 92-98 % of each passed on within 4-30 hours. Catalogue ML-19: age <= 30 days,
           inflow >= 5x the new-account median, and pass-through."""),
        _t("ML-20", "round_amounts", 30, """Account with no other activity moves 14-20 transfers in 25 days with 3-5
           counterparties; all but 1-2 are multiples of 100 (60 % of 1,000) currency units. Catalogue ML-20: >= 70 % of
           >= 10 in 30 days."""),
        _t("HT-01", "ad_site_spend", 30, """Subject pays 7-10 card fees within 20 days to 1-2 foreign escort/adult
           classified-ad sites (MCC 7273), each a multiple of 12 or 24 currency units. Catalogue HT-01: >= 5 in 30 days,
           or >= 3 multiples of {3, 12, 24} in 14 days; foreign merchant weighted up."""),
        _t("HT-02", "lodging", 30, """Subject pays 16-20 hotel/motel charges (MCC 7011) within 28 days in 4-5 regions,
           USD 60-180 each (converted). Catalogue HT-02: >= 4 stays in 7 days / >= 15 in 30, >= 3 cities in 14 days,
           or >= AUD 2,000 a month."""),
        _t("HT-03", "travel_for_others", 30, """Subject buys 5-8 air/rail/bus tickets (MCC 4511/4112/4131) within 12 days,
           several passenger names in the description, and 18-25 taxi/ride-share rides (MCC 4121) within 30 days.
           Catalogue HT-03: >= 3 tickets in 14 days; ride-share > 15 a month."""),
        _t("HT-06", "night_cash_deposits", 30, """Subject makes 6-9 ATM cash deposits at local 22:00-04:30 within 25 days,
           USD 100-800 each (converted). Catalogue HT-06: >= 4 ATM deposits in [22:00, 05:00) in 30 days."""),
        _t("HT-07", "third_party_cash_deposits", 30, """10-14 cash deposits into the subject within 25 days, each AUD 300-750
           (converted; USD 200-500), at 4+ places in 2+ regions, 70 %+ by 3-5 third-party conductors. Catalogue HT-07: >= 8 in
           [AUD 200, 800] from >= 3 places in 30 days; conductor other than the holder."""),
        _t("HT-08", "one_off_payers", 30, """Subject receives 14-20 person-to-person credits within 25 days from 12-18
           distinct ordinary customers (two pay twice), AUD 160-780 each (median AUD 280, converted;
           USD 107-520, median about 187, so also inside the band read as local units). Catalogue
           HT-08: >= 10 credits from >= 6 payers in [100, 800], median in [150, 350], >= 60 % one-off."""),
        _t("HT-09", "controller_collection", 45, """4-5 victims (no other income) are paid by clients (ordinary customers)
           several times a week and each hands 75-90 % of each day's takings to the controller 2-30 hours later, for
           the whole window (>= 2 calendar months). Controller is the subject; victims are linked. Catalogue HT-09:
           >= 3 senders, >= 70 % within 48 h, >= 2 months."""),
        _t("HT-11", "shared_contacts", 30, """3-5 victims' parties (different family names) carry the controller's phone
           and, for most, address; each victim sends the controller 40-60 % of their income weekly (below HT-09's
           share). Victims and controller are subjects. Catalogue HT-11 (a): >= 3 parties on one identifier, no declared
           tie, a common beneficiary."""),
        _t("FL-01", "wage_pass_through", 60, """Worker (no other activity) is paid by a real employer each pay cycle; 85-95 %
           of every wage leaves 2-30 hours later, to one controller account or as branch cash. Catalogue FL-01: >= 2 of
           3 cycles, >= 80 % within 48 h."""),
        _t("FL-02", "pooled_wages", 60, """4-6 workers of one employer each forward 70-90 % of every wage to the collector
           6-60 hours after payday; 1-2 more workers' wages are paid straight into the collector's account
           (`to_party` names the worker). Catalogue FL-02: >= 3 workers, within 72 h."""),
        _t("HS-01", "smuggling_collection", 30, """Beneficiary in a border region receives wires from 7-9 distinct ordinary
           customers in 4+ home regions within 10 days, each 40-95 % of USD 3,000 (converted). Catalogue HS-01: >= 5
           senders from >= 3 regions within 14 days, each below USD 3,000."""),
        _t("HS-03", "cash_to_migrant_corridor", 30, """Twice: 2-3 cash deposits within 4 days totalling [0.6 T, 1.4 T], then
           within 12-60 hours a remittance of 85-98 % of it to an account in a migrant-flow country
           (country_lists()['migrant_flow']). Catalogue HS-03: cash in then >= 70 % out within 72 h."""),
    ]
}

_NAME_TO_ID = {t.name: t.id for t in TYPOLOGIES.values()}

# Approximate units of currency per USD, only to give background amounts plausible
# magnitudes in the jurisdiction's currency (thresholds always come from config).
_FX_PER_USD = {"USD": 1.0, "AUD": 1.5, "CAD": 1.35, "NZD": 1.65, "IDR": 16000.0, "MYR": 4.5,
               "PHP": 56.0, "THB": 35.0, "SGD": 1.35, "AED": 3.67}  # fmt: skip
_PHONE_CC = {"US": "1", "CA": "1", "AU": "61", "NZ": "64", "ID": "62", "MY": "60", "PH": "63",
             "TH": "66", "SG": "65", "AE": "971"}  # fmt: skip

_GIVEN = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gabe", "Hana", "Ivan", "Jae", "Kofi", "Lena",
          "Mara", "Nico", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Xena",
          "Yusuf", "Zoe", "Ari", "Bea", "Cruz", "Dewi")  # fmt: skip
_FAMILY = ("Abara", "Bello", "Castor", "Dunmore", "Estrada", "Farrow", "Gunawan", "Halvorsen", "Ilori",
           "Jaramillo", "Kestrel", "Lindqvist", "Moraes", "Nakamura", "Okafor", "Pratama", "Quillan",
           "Rasmussen", "Santoso", "Thorne", "Ueda", "Valdivia", "Whitlock", "Xiong", "Yilmaz", "Zamora",
           "Ashby", "Brannock", "Corwin", "Delacroix", "Everly", "Fairweather", "Goswami", "Hollis",
           "Iversen", "Jovanovic", "Kaplan", "Lockhart", "Mbeki", "Northcott")  # fmt: skip
_BIZ_A = ("Blue", "North", "Granite", "Harbor", "Maple", "Summit", "Silver", "Cedar", "Prairie", "Coastal",
          "Evergreen", "Golden", "Lakeside", "Pioneer", "Redwood", "Sunrise")  # fmt: skip
_BIZ_B = ("Logistics", "Foods", "Builders", "Clinic", "Motors", "Textiles", "Farms", "Cleaning", "Systems",
          "Hospitality", "Supplies", "Studios", "Works", "Care", "Freight", "Trading")  # fmt: skip
_STREETS = ("Oak", "Pine", "Elm", "Birch", "Willow", "Main", "River", "Hill", "Park", "Lake", "Station",
            "Market", "Church", "Mill", "Bridge")  # fmt: skip

# MCC table: code, label, share of local merchants, everyday popularity, median USD,
# sigma, local opening hours (lo, hi; hi may pass midnight), online.
_MCCS = [
    ("5411", "GROCERY", 0.16, 3.0, 45, 0.7, (8, 21), False),
    ("5812", "RESTAURANT", 0.12, 1.5, 35, 0.6, (11, 23), False),
    ("5814", "FAST FOOD", 0.10, 2.0, 12, 0.5, (7, 23), False),
    ("5541", "FUEL", 0.07, 1.5, 45, 0.4, (6, 22), False),
    ("5912", "PHARMACY", 0.05, 1.0, 25, 0.7, (8, 21), False),
    ("5311", "DEPT STORE", 0.04, 1.0, 60, 0.8, (9, 21), False),
    ("5651", "CLOTHING", 0.06, 0.8, 55, 0.7, (10, 20), False),
    ("5732", "ELECTRONICS", 0.03, 0.4, 120, 0.9, (10, 20), False),
    ("5813", "BAR", 0.04, 0.8, 30, 0.6, (18, 25), False),
    ("7230", "BEAUTY SALON", 0.04, 0.5, 40, 0.5, (9, 19), False),
    ("5977", "COSMETICS", 0.02, 0.3, 30, 0.6, (10, 20), False),
    ("4121", "TAXI", 0.05, 0.6, 18, 0.5, (6, 26), False),
    ("7011", "HOTEL", 0.07, 0.0, 130, 0.4, (10, 22), False),
    ("4814", "TELECOM", 0.02, 0.6, 30, 0.3, (0, 24), True),
    ("4899", "STREAMING", 0.02, 0.8, 13, 0.3, (0, 24), True),
    ("5999", "MARKETPLACE", 0.04, 1.5, 40, 0.9, (0, 24), True),
    ("4511", "AIRLINE", 0.02, 0.0, 300, 0.6, (0, 24), True),
    ("4112", "RAIL", 0.01, 0.0, 80, 0.5, (0, 24), True),
    ("4131", "BUS LINES", 0.01, 0.0, 45, 0.5, (0, 24), True),
    ("7512", "CAR RENTAL", 0.01, 0.0, 180, 0.5, (8, 20), False),
    ("7273", "DATING", 0.01, 0.0, 25, 0.2, (0, 24), True),
    ("7311", "CLASSIFIEDS", 0.01, 0.0, 150, 0.8, (0, 24), True),
]
_CASH_HEAVY = {"5411", "5812", "5814", "5813", "7230", "5541"}
_REMIT_COUNTRIES = (("MX", 25), ("IN", 15), ("PH", 10), ("CN", 8), ("GT", 6), ("SV", 5), ("HN", 5),
                    ("DO", 4), ("CO", 4), ("VN", 4), ("NG", 4), ("PL", 3), ("GB", 3), ("KE", 2), ("DE", 2))  # fmt: skip
_AD_SITE_COUNTRIES = ("NL", "CY", "MT")
_N_REGIONS = 10
_N_BORDER = 2  # the last regions are border / transit areas (HS-01)
_POS_BASE = 9 * _N_REGIONS  # place index of the first card terminal (after 6 ATMs and 3 branches per region)

# account kinds
_PERSON, _EMPLOYER, _MERCHANT, _UTILITY, _PROPERTY, _GOV, _FOREIGN = range(7)
_CH = {c: i for i, c in enumerate(schema.CHANNELS)}


class _Vocab:
    """Strings stored as integer codes while generating (-1 = null)."""

    def __init__(self):
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def code(self, s: str) -> int:
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.values)
            self.values.append(s)
        return i

    def take(self, codes: np.ndarray) -> pa.Array:
        return _take_str(np.array(self.values, dtype=object), codes)


def _take_str(values, codes: np.ndarray) -> pa.Array:
    """Strings ``values[codes]`` with null where ``codes < 0`` (decoded from a dictionary array)."""
    codes = np.asarray(codes)
    dictionary = pa.array(list(values), pa.string())
    if not len(dictionary):
        return pa.nulls(len(codes), pa.string())
    idx = pa.array(np.maximum(codes, 0).astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(idx, dictionary).cast(pa.string())


def _const(value: str, n: int) -> pa.Array:
    """A string column holding ``value`` n times."""
    return _take_str([value], np.zeros(n, np.int64))


def _hex_ids(prefix: str, h: np.ndarray) -> pa.Array:
    """``prefix`` + 16 lower-case hex digits of each uint64 in ``h``, vectorised."""
    b = h.astype(">u8").view(np.uint8).reshape(-1, 8)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    out = np.empty((len(h), 17), np.uint8)
    out[:, 0] = ord(prefix)
    out[:, 1::2] = digits[b >> 4]
    out[:, 2::2] = digits[b & 15]
    return pa.array(out.reshape(-1).view("S17")).cast(pa.string())


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection of uint64 (distinct inputs give distinct ids)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class _Txns:
    """Column buffers of the generated transactions."""

    COLS = ("src", "dst", "day", "hour", "cents", "channel", "pattern", "desc", "loc", "fparty", "tparty",
            "conductor", "payroll")  # fmt: skip

    def __init__(self):
        self.parts: list[dict] = []

    def add(self, src, dst, day, hour, cents, channel, *, pattern=-1, desc=-1, loc=-1, fparty=-2, tparty=-2,
            conductor=-1, payroll=False):  # fmt: skip
        """Append transactions; scalars broadcast. ``fparty``/``tparty`` -2 = the account's holder."""
        vals = dict(src=src, dst=dst, day=day, hour=hour, cents=cents,
                    channel=_CH[channel] if isinstance(channel, str) else channel, pattern=pattern, desc=desc,
                    loc=loc, fparty=fparty, tparty=tparty, conductor=conductor, payroll=payroll)  # fmt: skip
        n = max(int(np.size(v)) for v in vals.values())
        if n == 0 or np.size(cents) == 0:
            return
        part = {}
        for k, v in vals.items():
            a = np.asarray(v)
            part[k] = np.broadcast_to(a, (n,)).copy() if a.ndim == 0 or a.size == 1 else a.reshape(n).copy()
        self.parts.append(part)

    def columns(self) -> dict[str, np.ndarray]:
        types = {"hour": np.float64, "payroll": bool}
        return {
            k: np.concatenate([p[k] for p in self.parts]).astype(types.get(k, np.int64))
            if self.parts else np.zeros(0, types.get(k, np.int64))
            for k in self.COLS
        }


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


# ---------------------------------------------------------------------------- background
def _background(w: _World) -> None:
    rng, tx = w.rng, w.tx
    months = w.n_days / 30.0
    live = w.persons[~w.quiet[w.persons]]
    n_live = len(live)
    d_sal = {}

    # --- employment and payroll (legit fan-out)
    employed = live[rng.random(n_live) < 0.72]
    emp_w = rng.lognormal(0, 1.3, len(w.employers))
    employer_of = np.full(w.n, -1)
    employer_of[employed] = rng.choice(w.employers, len(employed), p=emp_w / emp_w.sum())
    w.employer_of = employer_of
    income_usd = np.zeros(w.n)  # monthly income of each person, USD
    income_usd[employed] = rng.lognormal(np.log(4000), 0.45, len(employed))
    salary = w.usd(income_usd)
    for e in w.employers:
        staff = employed[employer_of[employed] == e]
        if not len(staff):
            continue
        days = w.paydays(e)
        if not len(days):
            continue
        key = d_sal.setdefault(e, w.desc.code(f"SALARY {w.names[e].upper()}"))
        amt = salary[staff] * (12 / 26 if w.emp_biweekly[e] else 1)
        s = np.repeat(staff, len(days))
        tx.add(e, s, np.tile(days, len(staff)), w.hours(len(s), 6, 9), np.repeat(amt.astype(np.int64), len(days)),
               "transfer", desc=key, payroll=True)  # fmt: skip
    # --- pensions and benefits for everyone else (largest legit fan-out)
    others = np.setdiff1d(live, employed)
    pension = rng.random(len(others)) < 0.6
    income_usd[others] = np.where(pension, rng.lognormal(np.log(1800), 0.3, len(others)),
                                  rng.lognormal(np.log(1000), 0.2, len(others)))  # fmt: skip
    owner, days = w.month_days(np.full(len(others), 3))
    desc = np.where(pension, w.desc.code("PENSION PAYMENT"), w.desc.code("BENEFIT PAYMENT"))
    tx.add(w.gov, others[owner], days, w.hours(len(owner), 5, 8), w.usd(income_usd[others][owner]), "transfer",
           desc=desc[owner])  # fmt: skip

    # --- rent to property managers and private landlords (legit fan-in)
    landlords = live[rng.random(n_live) < 0.03]
    heads = live[w.head[live]]  # one member of each household pays rent and bills
    renters = np.setdiff1d(heads[rng.random(len(heads)) < 0.6], landlords)
    to_pm = rng.random(len(renters)) < 0.7
    pm_w = rng.lognormal(0, 0.8, len(w.props))
    landlord = np.where(
        to_pm,
        rng.choice(w.props, len(renters), p=pm_w / pm_w.sum()),
        rng.choice(landlords, len(renters)) if len(landlords) else rng.choice(w.props, len(renters)),
    )
    rent = np.round(income_usd[renters] * rng.uniform(0.25, 0.4, len(renters)) / 5) * 5  # a share of income
    owner, days = w.month_days(rng.integers(1, 6, len(renters)))
    tx.add(renters[owner], landlord[owner], days, w.hours(len(owner), 8, 21), w.usd(rent[owner]), "transfer",
           desc=w.desc.code("RENT"))  # fmt: skip

    # --- utility bills (legit fan-in)
    for u_i, u in enumerate(w.utilities):
        payers = heads[rng.random(len(heads)) < min(0.9, 2.0 / max(1, len(w.utilities)) + 0.1)]
        owner, days = w.month_days(rng.integers(5, 28, len(payers)))
        base = rng.lognormal(np.log(70), 0.4, len(payers))
        amt = base[owner] * rng.uniform(0.8, 1.2, len(owner))
        tx.add(payers[owner], u, days, w.hours(len(owner), 7, 23), w.usd(amt), "transfer",
               desc=w.desc.code(f"BILL PAYMENT {w.names[u].upper()}"))  # fmt: skip

    # --- everyday card spend
    everyday = [i for i, m in enumerate(_MCCS) if m[3] > 0]
    pop = np.array([_MCCS[i][3] for i in everyday])
    rate = rng.lognormal(np.log(20), 0.5, n_live)
    rate = np.where(w.calm[live], np.minimum(rate, 15), rate)
    cnt = rng.poisson(rate * months)
    owner = np.repeat(live, cnt)
    mcc_i = np.array(everyday)[rng.choice(len(everyday), len(owner), p=pop / pop.sum())]
    _card_events(w, owner, mcc_i, rng.integers(0, w.n_days, len(owner)))

    # --- heavy ride-share users (decoys for HT-03) and trips (decoys for HT-02 / HT-03)
    riders = live[(rng.random(n_live) < 0.08) & ~w.calm[live]]
    cnt = rng.poisson(9 * months, len(riders))
    owner = np.repeat(riders, cnt)
    _card_events(w, owner, np.full(len(owner), w.mcc_codes.index("4121")), rng.integers(0, w.n_days, len(owner)))
    trip_rate = np.where(w.calm[live], 0.1, rng.choice([0.1, 0.4, 1.5], n_live, p=[0.75, 0.2, 0.05]))
    cnt = rng.poisson(trip_rate * months)
    traveller = np.repeat(live, cnt)
    _trips(w, traveller)

    # --- dating subscriptions (legit MCC 7273) and the odd classified-ad fee
    subs = live[rng.random(n_live) < 0.04]
    if len(w.dating) and len(subs):
        site = rng.choice(w.dating, len(subs))
        price = rng.choice([19.99, 29.99, 9.99], len(subs))
        owner, days = w.month_days(rng.integers(1, 29, len(subs)))
        tx.add(subs[owner], site[owner], days, w.hours(len(owner), 0, 24), w.usd(price[owner]), "card")
    odd = live[rng.random(n_live) < 0.003]
    if len(odd):
        site = rng.choice(w.ad_sites, len(odd))
        tx.add(odd, site, rng.integers(0, w.n_days, len(odd)), w.hours(len(odd), 18, 24),
               w.usd(rng.choice([12, 24], len(odd))), "card")  # fmt: skip

    # --- person-to-person transfers within a circle of contacts
    deg = rng.integers(3, 9, n_live)
    same = rng.random(deg.sum()) < 0.7
    src = np.repeat(live, deg)
    contacts = rng.choice(live, deg.sum())
    by_region = {r: live[w.region[live] == r] for r in range(_N_REGIONS)}
    for r, members in by_region.items():
        sel = same & (w.region[src] == r)
        if len(members) and sel.any():
            contacts[sel] = rng.choice(members, sel.sum())
    starts = np.cumsum(deg) - deg
    cnt = rng.poisson(2.0 * months, n_live)
    owner_pos = np.repeat(np.arange(n_live), cnt)
    pick = starts[owner_pos] + (rng.random(len(owner_pos)) * deg[owner_pos]).astype(np.int64)
    payer, payee = live[owner_pos], contacts[pick]
    ok = payer != payee
    payer, payee = payer[ok], payee[ok]
    amt = rng.lognormal(np.log(40), 0.8, len(payer))
    amt = np.where(rng.random(len(payer)) < 0.6, np.maximum(5, np.round(amt / 5) * 5), amt)
    chan = np.where(rng.random(len(payer)) < 0.4, _CH["mobile_money"], _CH["transfer"])
    tx.add(payer, payee, rng.integers(0, w.n_days, len(payer)), w.hours(len(payer), 8, 23.5), w.usd(amt), chan,
           desc=w.desc.code("P2P"))  # fmt: skip

    # --- ATM cash withdrawals (round amounts, a few at night)
    cnt = rng.poisson(2.2 * months, n_live)
    owner = np.repeat(live, cnt)
    notes = np.array([20, 40, 60, 80, 100, 120, 140, 160, 200, 240, 300, 400, 500])
    pn = np.array([4, 8, 8, 6, 12, 5, 3, 3, 10, 3, 4, 2, 1], float)
    usd = rng.choice(notes, len(owner), p=pn / pn.sum())
    unit = 10 ** math.floor(math.log10(w.fx * 20))
    cents = (np.round(usd * w.fx / unit) * unit * 100).astype(np.int64)
    night = rng.random(len(owner)) < 0.06
    hour = np.where(night, rng.uniform(22, 29, len(owner)), rng.uniform(7, 22, len(owner)))
    region = np.where(rng.random(len(owner)) < 0.9, w.region[owner], rng.integers(0, _N_REGIONS, len(owner)))
    tx.add(owner, -1, rng.integers(0, w.n_days, len(owner)), hour, cents, "atm", loc=w.locations(region, "ATM"),
           tparty=-1)  # fmt: skip

    # --- occasional cash deposits by persons (well below the threshold)
    migrants = live[rng.random(n_live) < 0.06]
    rate = np.full(w.n, 0.2)
    rate[migrants] = 0.6
    cnt = rng.poisson(rate[live] * months)
    owner = np.repeat(live, cnt)
    amt = np.minimum(rng.lognormal(np.log(200), 0.8, len(owner)), 0.5 * w.T / 100 / w.fx)
    cents = w.usd(np.round(amt / 10) * 10)
    atm = rng.random(len(owner)) < 0.4
    region = w.region[owner]
    loc = np.where(atm, w.locations(region, "ATM"), w.locations(region, "BR"))
    hour = np.where(atm, rng.uniform(7, 22, len(owner)), rng.uniform(9, 17, len(owner)))
    conductor = owner.copy()
    # now and then a household member pays it in
    hh_dep = rng.random(len(owner)) < 0.1
    if hh_dep.any():
        mates = _household_mate(w, owner[hh_dep])
        conductor[hh_dep] = np.where(mates >= 0, mates, owner[hh_dep])
    tx.add(-1, owner, rng.integers(0, w.n_days, len(owner)), hour, cents, "cash_deposit", loc=loc,
           fparty=conductor, conductor=conductor, desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip

    # --- remittances abroad and transfers from abroad
    bg_foreign = w.foreign[~w.used[w.foreign]]
    if len(bg_foreign) and len(migrants):
        ben = rng.choice(bg_foreign, len(migrants))
        # most migrants send money home, to the country of their nationality; some are naturalised
        born_abroad = migrants % 5 != 0  # 4 in 5 (not drawn from rng: the rest of the stream stays put)
        w.nationality.update(zip(migrants[born_abroad].tolist(), w.country[ben[born_abroad]].tolist()))
        cnt = rng.poisson(1.0 * months, len(migrants))
        pos = np.repeat(np.arange(len(migrants)), cnt)
        amt = rng.lognormal(np.log(300), 0.5, len(pos))
        at_branch = rng.random(len(pos)) < 0.6  # paid in at a branch / counter, or sent online
        loc = np.where(at_branch, w.locations(w.region[migrants[pos]], "BR"), -1)
        tx.add(migrants[pos], ben[pos], rng.integers(0, w.n_days, len(pos)), w.hours(len(pos), 9, 20), w.usd(amt),
               "remittance", loc=loc, desc=w.desc.code("REMITTANCE"))  # fmt: skip
        recv = live[rng.random(n_live) < 0.02]
        cnt = rng.poisson(0.5 * months, len(recv))
        pos = np.repeat(np.arange(len(recv)), cnt)
        tx.add(rng.choice(bg_foreign, len(pos)), recv[pos], rng.integers(0, w.n_days, len(pos)),
               w.hours(len(pos), 3, 12), w.usd(rng.lognormal(np.log(400), 0.5, len(pos))), "wire",
               desc=w.desc.code("INWARD TRANSFER"))  # fmt: skip

    # --- businesses: invoices, advertising, cash takings
    biz = np.r_[w.employers, w.merchants[w.country[w.merchants] == w.home], w.props, w.utilities]
    cnt = rng.poisson(2.5 * months, len(biz))
    payer = np.repeat(biz, cnt)
    sup_pool = np.r_[w.employers, w.merchants[w.country[w.merchants] == w.home]]
    sw = np.r_[np.full(len(w.employers), 3.0), np.ones(len(sup_pool) - len(w.employers))] * w.popularity[sup_pool]
    supplier = rng.choice(sup_pool, len(payer), p=sw / sw.sum())
    ok = payer != supplier
    payer, supplier = payer[ok], supplier[ok]
    amt = rng.lognormal(np.log(2500), 1.0, len(payer))
    amt = np.where(rng.random(len(payer)) < 0.4, np.maximum(100, np.round(amt / 100) * 100), amt)
    chan = np.where(rng.random(len(payer)) < 0.3, _CH["wire"], _CH["transfer"])
    tx.add(payer, supplier, rng.integers(0, w.n_days, len(payer)), w.hours(len(payer), 9, 17), w.usd(amt), chan,
           desc=w.desc.code("INVOICE"))  # fmt: skip
    classifieds = w.merchants[w.merchant_mcc[w.merchants] == w.mcc_codes.index("7311")]
    adv = biz[rng.random(len(biz)) < 0.15]
    if len(classifieds) and len(adv):
        site = rng.choice(classifieds, len(adv))
        owner, days = w.month_days(rng.integers(1, 29, len(adv)))
        tx.add(adv[owner], site[owner], days, w.hours(len(owner), 9, 18),
               w.usd(rng.uniform(50, 400, len(owner)).round()), "card")  # fmt: skip
    cashy = np.array([_MCCS[m][0] in _CASH_HEAVY for m in w.merchant_mcc[w.merchants]])
    shops = w.merchants[cashy & (w.country[w.merchants] == w.home)]
    cnt = rng.poisson(months * 30 / 7, len(shops))
    owner = np.repeat(shops, cnt)
    amt = rng.lognormal(np.log(1200), 0.6, len(owner))
    night = np.isin(owner, w.night_bars)
    hour = np.where(night, rng.uniform(22.5, 25.5, len(owner)), rng.uniform(10, 17, len(owner)))
    tx.add(-1, owner, rng.integers(0, w.n_days, len(owner)), hour, w.usd(np.round(amt, -1)), "cash_deposit",
           loc=w.locations(w.region[owner], "BR"), fparty=owner, conductor=owner,
           desc=w.desc.code("CASH DEPOSIT TAKINGS"))  # fmt: skip


def _household_mate(w: _World, owners: np.ndarray) -> np.ndarray:
    """Another member of each owner's household, or -1."""
    hh = w.household
    persons = w.persons[hh[w.persons] >= 0]
    order = persons[np.argsort(hh[persons], kind="stable")]
    keys = hh[order]
    out = np.full(len(owners), -1)
    lo = np.searchsorted(keys, hh[owners], "left")
    hi = np.searchsorted(keys, hh[owners], "right")
    size = hi - lo
    multi = size > 1
    pick = lo + (w.rng.random(len(owners)) * size).astype(np.int64)
    cand = order[np.minimum(pick, len(order) - 1)]
    cand = np.where(cand == owners, order[np.minimum(lo + (pick - lo + 1) % np.maximum(size, 1), len(order) - 1)], cand)
    out[multi] = cand[multi]
    return out


def _merchants_for(w: _World, mcc_i: np.ndarray, region: np.ndarray, local_share=0.8) -> np.ndarray:
    """A merchant of MCC ``mcc_i`` per event: popular ones more often, mostly in ``region``."""
    rng = w.rng
    out = np.full(len(mcc_i), -1)
    m_mcc = w.merchant_mcc[w.merchants]
    domestic = w.country[w.merchants] == w.home
    for m in np.unique(mcc_i):
        cand = w.merchants[(m_mcc == m) & domestic]
        if not len(cand):
            cand = w.merchants[m_mcc == m]
        if not len(cand):
            continue
        sel = np.flatnonzero(mcc_i == m)
        pw = w.popularity[cand]
        out[sel] = rng.choice(cand, len(sel), p=pw / pw.sum())
        if not _MCCS[m][7]:
            local = sel[rng.random(len(sel)) < local_share]
            for r in np.unique(region[local]):
                cr = cand[w.region[cand] == r]
                if len(cr):
                    s = local[region[local] == r]
                    pr = w.popularity[cr]
                    out[s] = rng.choice(cr, len(s), p=pr / pr.sum())
    return out


def _card_events(w: _World, owner, mcc_i, day, *, pattern=-1, region=None, cents=None, desc=-1):
    rng = w.rng
    if not len(owner):
        return
    region = w.region[owner] if region is None else region
    merch = _merchants_for(w, mcc_i, region)
    ok = merch >= 0
    owner, mcc_i, day, merch = owner[ok], mcc_i[ok], np.asarray(day)[ok], merch[ok]
    lo = np.array([_MCCS[m][6][0] for m in mcc_i], float)
    hi = np.array([_MCCS[m][6][1] for m in mcc_i], float)
    hour = lo + rng.random(len(owner)) * (hi - lo)
    if cents is None:
        med = np.array([_MCCS[m][4] for m in mcc_i], float)
        sig = np.array([_MCCS[m][5] for m in mcc_i], float)
        cents = w.usd(rng.lognormal(np.log(med), sig))
    else:
        cents = np.asarray(cents)[ok] if np.size(cents) > 1 else cents
    loc = np.where(w.online[merch], -1, _POS_BASE + merch)  # card terminal of the merchant
    w.tx.add(owner, merch, day, hour, cents, "card", pattern=pattern, loc=loc, desc=desc)


def _trips(w: _World, traveller: np.ndarray, *, pattern=-1) -> None:
    rng = w.rng
    n = len(traveller)
    if not n:
        return
    day = rng.integers(0, w.n_days, n)
    dest = (w.region[traveller] + rng.integers(1, _N_REGIONS, n)) % _N_REGIONS
    mode = rng.choice([w.mcc_codes.index(c) for c in ("4511", "4112", "4131")], n, p=[0.7, 0.2, 0.1])
    _card_events(w, traveller, mode, day, pattern=pattern)
    nights = rng.integers(1, 5, n)
    hotel_day = np.minimum(day + nights, w.n_days - 1)
    cents = w.usd(nights * rng.lognormal(np.log(130), 0.35, n))
    _card_events(w, traveller, np.full(n, w.mcc_codes.index("7011")), hotel_day, region=dest, cents=cents,
                 pattern=pattern)  # fmt: skip
    rides = rng.integers(0, 4, n)
    pos = np.repeat(np.arange(n), rides)
    _card_events(w, traveller[pos], np.full(len(pos), w.mcc_codes.index("4121")),
                 np.minimum(day[pos] + rng.integers(0, 3, len(pos)), w.n_days - 1), region=dest[pos],
                 pattern=pattern)  # fmt: skip
    rent = rng.random(n) < 0.1
    _card_events(w, traveller[rent], np.full(rent.sum(), w.mcc_codes.index("7512")), day[rent], region=dest[rent],
                 pattern=pattern)  # fmt: skip


# ---------------------------------------------------------------------------- injectors
def _forward(w, p, src, dst_list, day, hour, cents, gap_h=(2, 30), share=(0.95, 0.99), chan="transfer"):
    """``src`` passes ``share`` of ``cents`` on to ``dst_list`` (split) ``gap_h`` hours after (day, hour)."""
    rng = w.rng
    total = int(cents * rng.uniform(*share))
    k = len(dst_list)
    split = rng.dirichlet(np.full(k, 4.0)) if k > 1 else np.ones(1)
    parts = np.floor(split * total).astype(np.int64)
    parts[-1] = total - parts[:-1].sum()
    h = hour + rng.uniform(*gap_h, k)
    w.tx.add(src, np.asarray(dst_list), day, h, parts, chan, pattern=p)
    return day, h


def _ml01(w, p):
    s = w.take(1)
    w.member(p, s, "subject", True)
    episodes = 2 if w.n_days >= 30 else 1
    d0 = w.window(5 + (12 if episodes == 2 else 0))
    for e in range(episodes):
        k = int(w.rng.integers(4, 7))
        days = d0 + 12 * e + np.sort(w.rng.integers(0, 5, k))
        cents = w.of_T(0.85, 0.99, k, round_to=10 * w.unit)
        w.tx.add(-1, s[0], days, w.hours(k, 9, 17), cents, "cash_deposit", pattern=p,
                 loc=w.locations(np.full(k, w.region[s[0]]), "BR"), conductor=s[0], fparty=s[0],
                 desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip


def _ml02(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    n_days = int(rng.integers(2, 4))
    conductors = [w.new_party(w.region[s]) for _ in range(6)]
    w.member_party(p, conductors, "conductor")
    d0 = w.window(3 * n_days + 2)
    for d in range(n_days):
        k = int(rng.integers(4, 7))
        who = rng.permutation(conductors)[:k]
        region = np.where(rng.random(k) < 0.6, w.region[s], rng.integers(0, _N_REGIONS, k))
        atm = rng.random(k) < 0.5
        loc = np.where(atm, w.locations(region, "ATM"), w.locations(region, "BR"))
        loc = np.unique(loc)
        while len(loc) < k:
            loc = np.unique(np.r_[loc, w.locations(rng.integers(0, _N_REGIONS, k), "BR")])
        loc = rng.permutation(loc)[:k]
        w.tx.add(-1, s, d0 + 3 * d, w.hours(k, 9, 17), w.of_T(0.25, 0.45, k, round_to=10 * w.unit), "cash_deposit",
                 pattern=p, loc=loc, fparty=who, conductor=who, desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip


def _ml03(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    conductors = [w.new_party(w.region[s]) for _ in range(int(rng.integers(2, 4)))]
    w.member_party(p, conductors, "conductor")
    away = np.array([r for r in range(_N_REGIONS) if r != w.region[s]])
    d = w.window(30)
    for _ in range(2):
        k = int(rng.integers(3, 6))
        regions = rng.choice(away, k, replace=False)
        days = d + np.sort(rng.integers(0, 4, k))
        cents = w.of_T(0.15, 0.35, k, round_to=10 * w.unit)
        who = rng.choice(conductors, k)
        w.tx.add(-1, s, days, w.hours(k, 9, 17), cents, "cash_deposit", pattern=p, loc=w.locations(regions, "BR"),
                 fparty=who, conductor=who, desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip
        out_region = int(rng.choice([r for r in range(_N_REGIONS) if r not in set(regions.tolist())]))
        total = int(cents.sum() * rng.uniform(0.85, 0.95))
        m = max(1, math.ceil(total / (0.9 * w.T)))
        parts = np.full(m, total // m)
        parts[0] += total - parts.sum()
        hours = 17 + rng.uniform(12, 48) + np.arange(m) * rng.uniform(1, 4)
        w.tx.add(s, -1, int(days.max()), hours, parts, "cash_withdrawal", pattern=p,
                 loc=w.locations(np.full(m, out_region), "BR"), tparty=-1, desc=w.desc.code("CASH WITHDRAWAL"))  # fmt: skip
        d += int(rng.integers(10, 14))


def _ml04(w, p):
    rng = w.rng
    s = w.take(1, quiet=True)[0]
    src = w.take(2)
    dst = w.take(2)
    w.member(p, s, "subject", True)
    w.member(p, src, "member", False)
    w.member(p, dst, "member", False)
    day = w.window(22)
    for e in range(3):
        cents = int(w.of_T(0.6, 1.5, 1, round_to=w.unit)[0])
        h = float(rng.uniform(9, 16))
        w.tx.add(src[e % 2], s, day, h, cents, "transfer", pattern=p)
        k = int(rng.integers(1, 3))
        _forward(w, p, s, dst[:k], day, h, cents)
        day += int(rng.integers(4, 10))


def _ml05(w, p):
    rng = w.rng
    s = w.take(1)[0]
    k = int(rng.integers(11, 15))
    senders = w.take(k)
    out = w.take(1)
    w.member(p, s, "subject", True)
    w.member(p, senders, "member", False)
    w.member(p, out, "member", False)
    d0 = w.window(12)
    days = d0 + rng.integers(0, 6, k)
    cents = w.of_T(0.05, 0.2, k)
    w.tx.add(senders, s, days, w.hours(k, 8, 22), cents, "transfer", pattern=p)
    last = int(days.max())
    _forward(w, p, s, np.repeat(out, int(rng.integers(1, 3))), last + int(rng.integers(1, 6)), 10.0,
             int(cents.sum()), gap_h=(0, 6), share=(0.8, 0.95))  # fmt: skip


def _ml06(w, p):
    rng = w.rng
    s = w.take(1)[0]
    src = w.take(1)
    k = int(rng.integers(11, 15))
    ben = w.take(k)
    w.member(p, s, "subject", True)
    w.member(p, src, "member", False)
    w.member(p, ben, "member", False)
    d0 = w.window(9)
    cents = int(w.of_T(1.0, 2.5, 1, round_to=w.unit)[0])
    w.tx.add(src[0], s, d0, 10.0, cents, "wire", pattern=p)
    parts = np.floor(rng.dirichlet(np.full(k, 5.0)) * cents * rng.uniform(0.85, 0.95)).astype(np.int64)
    w.tx.add(s, ben, d0 + 1 + rng.integers(0, 6, k), w.hours(k, 8, 20), parts, "transfer", pattern=p)


def _ml07(w, p):
    rng = w.rng
    a, b = w.take(2)
    k = int(rng.integers(5, 7))
    mid = w.take(k)
    w.member(p, [a, b], "subject", True)
    w.member(p, mid, "member", False)
    d0 = w.window(9)
    for i in mid:
        cents = int(w.of_T(0.3, 0.8, 1, round_to=w.unit)[0])
        d = d0 + int(rng.integers(0, 2))
        h = float(rng.uniform(9, 17))
        w.tx.add(a, i, d, h, cents, "transfer", pattern=p)
        _forward(w, p, i, [b], d, h, cents, gap_h=(24, 96), share=(0.92, 0.97))


def _ml08(w, p):
    rng = w.rng
    hub = w.take(1)[0]
    k_in, k_out = int(rng.integers(4, 7)), int(rng.integers(4, 7))
    senders, receivers = w.take(k_in), w.take(k_out)
    w.member(p, hub, "subject", True)
    w.member(p, senders, "member", False)
    w.member(p, receivers, "member", False)
    d0 = w.window(10)
    cents = w.of_T(0.15, 0.5, k_in, round_to=w.unit)
    w.tx.add(senders, hub, d0 + rng.integers(0, 4, k_in), w.hours(k_in, 9, 18), cents, "transfer", pattern=p)
    total = int(cents.sum() * rng.uniform(0.88, 0.95))
    parts = np.floor(rng.dirichlet(np.full(k_out, 5.0)) * total).astype(np.int64)
    w.tx.add(hub, receivers, d0 + 4 + rng.integers(0, 6, k_out), w.hours(k_out, 9, 18), parts, "transfer", pattern=p)


def _ml09(w, p):
    rng = w.rng
    k = int(rng.integers(4, 7))
    ring = w.take(k)
    w.bank[ring] = rng.permutation(np.arange(k) % 5)
    w.member(p, ring, "subject", True)
    d = w.window(4 * k + 1)
    cents = int(w.of_T(0.5, 2.0, 1, round_to=w.unit)[0])
    h = float(rng.uniform(9, 17))
    for i in range(k):
        w.tx.add(ring[i], ring[(i + 1) % k], d, h, cents, "transfer" if i % 2 else "wire", pattern=p)
        cents = int(cents * rng.uniform(0.95, 0.99))
        d += int(rng.integers(1, 5))
        h = float(rng.uniform(9, 17))


def _ml10(w, p):
    rng = w.rng
    orig, ben = w.take(3, quiet=True), w.take(3, quiet=True)  # shell / mule accounts
    w.member(p, np.r_[orig, ben], "subject", True)
    d0 = w.window(10)
    o, b = np.repeat(orig, 3), np.tile(ben, 3)
    w.tx.add(o, b, d0 + rng.integers(0, 10, 9), w.hours(9, 9, 18), w.of_T(0.1, 0.3, 9), "transfer", pattern=p)


def _ml11(w, p):
    rng = w.rng
    t1, t2, t3 = w.take(3, quiet=True), w.take(3, quiet=True), w.take(3, quiet=True)  # shell / mule accounts
    w.member(p, np.r_[t1, t2, t3], "subject", True)
    d0 = w.window(9)
    c = w.of_T(0.1, 0.3, 9)
    w.tx.add(np.repeat(t1, 3), np.tile(t2, 3), d0 + rng.integers(0, 4, 9), w.hours(9, 9, 18), c, "transfer", pattern=p)
    got = np.bincount(np.tile(np.arange(3), 3), weights=c, minlength=3)
    out = np.floor(np.repeat(got / 3, 3) * rng.uniform(0.95, 0.99, 9)).astype(np.int64)
    w.tx.add(np.repeat(t2, 3), np.tile(t3, 3), d0 + 4 + rng.integers(0, 5, 9), w.hours(9, 9, 18), out, "transfer",
             pattern=p)  # fmt: skip


def _ml12(w, p):
    rng = w.rng
    k = int(rng.integers(5, 7))
    hops = w.take(k)
    end = w.take_foreign([c for c, _ in _REMIT_COUNTRIES[:8]])
    w.bank[hops] = rng.permutation(np.arange(k) % 5)
    w.member(p, hops, "subject", True)
    w.member(p, end, "member", False)
    chain = list(hops) + [end]
    d = w.window(2 + k * 2)
    h = float(rng.uniform(9, 15))
    cents = int(w.of_T(1.0, 3.0, 1, round_to=w.unit)[0])
    for i in range(len(chain) - 1):
        last = i == len(chain) - 2
        w.tx.add(chain[i], chain[i + 1], d, h, cents, "wire" if last or i % 2 else "transfer", pattern=p)
        cents = int(cents * rng.uniform(0.95, 0.99))
        h += float(rng.uniform(6, 40))


def _ml13(w, p):
    rng = w.rng
    s = w.take(1)[0]
    listed = country_lists()["fatf_call_for_action"]["countries"]
    ben = [w.take_foreign(listed) for _ in range(int(rng.integers(2, 4)))]
    w.member(p, s, "subject", True)
    w.member(p, ben, "member", False)
    k = int(rng.integers(4, 7))
    d0 = w.window(25)
    w.tx.add(s, rng.choice(ben, k), d0 + np.sort(rng.integers(0, 25, k)), w.hours(k, 9, 17),
             w.of_T(0.1, 0.4, k, round_to=w.unit), "wire", pattern=p, desc=w.desc.code("INTERNATIONAL TRANSFER"))  # fmt: skip


def _ml15(w, p):
    rng = w.rng
    members = w.take(int(rng.integers(3, 5)))
    w.member(p, members, "subject", True)
    fam = rng.permutation(len(_FAMILY))[: len(members)]
    w.family[members] = fam
    w.household[members] = -1
    w.address_key[members] = members
    w.phone_of[members] = members[0]
    # the others pay the herder a fee, once
    k = len(members) - 1
    w.tx.add(members[1:], members[0], w.window(20) + rng.integers(0, 20, k), w.hours(k, 9, 20),
             w.of_T(0.02, 0.05, k, round_to=w.unit), "transfer", pattern=p, desc=w.desc.code("TRANSFER"))  # fmt: skip


def _ml17(w, p):
    rng = w.rng
    t2 = int(w.j.secondary_threshold * 100)
    s = w.take(1)[0]
    ben = w.take(int(rng.integers(2, 4)))
    w.member(p, s, "subject", True)
    w.member(p, ben, "member", False)
    d = w.window(30)
    unit = 100 * w.unit
    for _ in range(2):
        k = int(rng.integers(4, 7))
        cents = (rng.uniform(0.86, 0.995, k) * t2 // unit * unit).astype(np.int64)
        w.tx.add(s, rng.choice(ben, k), d + np.sort(rng.integers(0, 6, k)), w.hours(k, 9, 17), cents, "wire",
                 pattern=p, desc=w.desc.code("TRANSFER"))  # fmt: skip
        d += int(rng.integers(10, 14))


def _ml14(w, p):
    rng = w.rng
    s = w.take(1, quiet=True)[0]
    w.opened_day[s] = -int(rng.integers(2 * 365, 6 * 365))
    src, dst = w.take(2), w.take(2)
    w.member(p, s, "subject", True)
    w.member(p, np.r_[src, dst], "member", False)
    k = int(rng.integers(3, 6))
    pre_days = rng.integers(0, 10, k)
    kinds = rng.integers(0, 2, k)
    for d, kind in zip(pre_days, kinds):
        if kind == 0:
            _card_events(w, np.array([s]), np.array([w.mcc_codes.index("5411")]), np.array([d]), pattern=p)
        else:
            w.tx.add(s, -1, int(d), float(rng.uniform(9, 20)), w.usd(rng.choice([40, 60, 100])), "atm", pattern=p,
                     loc=w.locations(np.array(w.region[s]), "ATM"), tparty=-1)  # fmt: skip
    gap = 185
    wake = int(pre_days.max()) + gap + int(rng.integers(0, max(1, w.n_days - int(pre_days.max()) - gap - 7)))
    wake = min(wake, w.n_days - 7)
    c_in = w.of_T(0.75, 1.5, 2, round_to=w.unit)
    w.tx.add(src, s, wake + rng.integers(0, 2, 2), w.hours(2, 9, 16), c_in, "wire", pattern=p)
    total = int(c_in.sum() * rng.uniform(0.85, 0.95))
    k = int(rng.integers(2, 5))
    parts = np.floor(rng.dirichlet(np.full(k, 4.0)) * total).astype(np.int64)
    w.tx.add(s, rng.choice(dst, k), wake + 2 + rng.integers(0, 3, k), w.hours(k, 9, 18), parts, "transfer", pattern=p)


def _ml18(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.calm[s] = True
    w.member(p, s, "subject", True)
    cps = w.counterparties(int(rng.integers(10, 21)))
    w.member(p, cps, "counterparty", False)
    k = int(rng.integers(45, 61))
    dur = int(rng.integers(5, 8))
    d0 = w.window(dur, lo=min(112, w.n_days - dur - 1))
    out = rng.random(k) < 0.6
    other = rng.choice(cps, k)
    cents = w.of_T(0.02, 0.1, k)
    days = d0 + rng.integers(0, dur, k)
    hours = w.hours(k, 8, 23)
    w.tx.add(np.where(out, s, other), np.where(out, other, s), days, hours, cents, "transfer", pattern=p)


def _ml19(w, p):
    rng = w.rng
    s = w.take(1, quiet=True)[0]
    src, dst = w.take(2), w.take(2)
    w.member(p, s, "subject", True)
    w.member(p, np.r_[src, dst], "member", False)
    opened = w.window(22, lo=3)
    w.opened_day[s] = opened
    k = int(rng.integers(3, 5))
    days = opened + 1 + np.sort(rng.choice(np.arange(19), k, replace=False))
    for e, d in enumerate(days):
        cents = int(w.of_T(0.8, 1.5, 1, round_to=w.unit)[0])
        h = float(rng.uniform(9, 15))
        w.tx.add(src[e % 2], s, int(d), h, cents, "transfer", pattern=p)
        _forward(w, p, s, dst[: int(rng.integers(1, 3))], int(d), h, cents, gap_h=(4, 30), share=(0.92, 0.98))


def _ml20(w, p):
    rng = w.rng
    s = w.take(1, quiet=True)[0]
    cps = w.take(int(rng.integers(3, 6)))
    w.member(p, s, "subject", True)
    w.member(p, cps, "member", False)
    k = int(rng.integers(14, 21))
    d0 = w.window(25)
    hundred = 100 * w.unit
    mult = np.where(rng.random(k) < 0.6, rng.integers(1, 20, k) * 10, rng.integers(5, 200, k))
    cents = (mult * hundred * 100).astype(np.int64)
    odd = rng.choice(k, int(rng.integers(1, 3)), replace=False)
    cents[odd] += w.usd(rng.uniform(1, 99, len(odd)))
    out = rng.random(k) < 0.5
    other = rng.choice(cps, k)
    w.tx.add(np.where(out, s, other), np.where(out, other, s), d0 + rng.integers(0, 25, k), w.hours(k, 9, 18), cents,
             "transfer", pattern=p)  # fmt: skip


def _ht01(w, p):
    rng = w.rng
    s = w.take(1)[0]
    sites = rng.permutation(w.ad_sites)[: int(rng.integers(1, 3))]
    w.member(p, s, "subject", True)
    w.member(p, sites, "counterparty", False)
    k = int(rng.integers(7, 11))
    d0 = w.window(20)
    fee = rng.choice([12, 24], k) * rng.integers(1, 6, k) * w.unit  # multiples of 12 / 24 local units
    w.tx.add(s, rng.choice(sites, k), d0 + rng.integers(0, 20, k), w.hours(k, 0, 24), (fee * 100).astype(np.int64),
             "card", pattern=p)  # fmt: skip


def _ht02(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    k = int(rng.integers(16, 21))
    d0 = w.window(28)
    regions = rng.permutation(_N_REGIONS)[: int(rng.integers(4, 6))]
    region = rng.choice(regions, k)
    days = d0 + np.sort(rng.integers(0, 28, k))
    cents = w.usd(rng.uniform(60, 180, k))
    before = len(w.tx.parts)
    _card_events(w, np.full(k, s), np.full(k, w.mcc_codes.index("7011")), days, region=region, cents=cents,
                 pattern=p)  # fmt: skip
    _note_counterparties(w, p, before)


def _ht03(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    k = int(rng.integers(5, 9))
    d0 = w.window(30)
    modes = rng.choice([w.mcc_codes.index(c) for c in ("4511", "4112", "4131")], k, p=[0.5, 0.25, 0.25])
    before = len(w.tx.parts)
    pax = [f"{_GIVEN[i]} {_FAMILY[j]}" for i, j in zip(rng.integers(0, len(_GIVEN), 4), rng.integers(0, len(_FAMILY), 4))]
    for i in range(k):
        _card_events(w, np.array([s]), modes[i : i + 1], np.array([d0 + rng.integers(0, 12)]), pattern=p,
                     desc=w.desc.code(f"TICKET PAX {pax[i % len(pax)].upper()}"))  # fmt: skip
    r = int(rng.integers(18, 26))
    _card_events(w, np.full(r, s), np.full(r, w.mcc_codes.index("4121")), d0 + rng.integers(0, 30, r), pattern=p)
    _note_counterparties(w, p, before)


def _note_counterparties(w, p, before):
    merch = np.unique(np.concatenate([part["dst"] for part in w.tx.parts[before:]]))
    w.member(p, merch[merch >= 0], "counterparty", False)


def _ht06(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    k = int(rng.integers(6, 10))
    d0 = w.window(26)
    days = d0 + np.sort(rng.choice(np.arange(25), k, replace=False))
    hour = rng.uniform(22, 28.5, k)  # 22:00 - 04:30 local
    cents = w.usd(np.round(rng.uniform(100, 800, k) / 10) * 10)
    w.tx.add(-1, s, days, hour, cents, "cash_deposit", pattern=p, loc=w.locations(np.full(k, w.region[s]), "ATM"),
             fparty=s, conductor=s, desc=w.desc.code("ATM DEPOSIT"))  # fmt: skip


def _ht07(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    conductors = [w.new_party(w.region[s]) for _ in range(int(rng.integers(3, 6)))]
    w.member_party(p, conductors, "conductor")
    k = int(rng.integers(10, 15))
    d0 = w.window(25)
    regions = np.r_[w.region[s], rng.integers(0, _N_REGIONS, 2)]
    region = rng.choice(regions, k)
    region[0] = w.region[s]
    region[1] = (w.region[s] + 1 + rng.integers(0, _N_REGIONS - 1)) % _N_REGIONS
    loc = np.where(rng.random(k) < 0.6, w.locations(region, "ATM"), w.locations(region, "BR"))
    while len(np.unique(loc)) < 4:
        loc[rng.integers(0, k)] = w.locations(rng.integers(0, _N_REGIONS, 1), "ATM")[0]
    own = rng.permutation(k) < k // 5  # about one in five paid in by the holder
    by = np.where(own, s, rng.choice(conductors, k))
    cents = w.from_currency(np.round(rng.uniform(300, 750, k) / 10) * 10, "AUD")
    w.tx.add(-1, s, d0 + rng.integers(0, 25, k), w.hours(k, 8, 21), cents, "cash_deposit", pattern=p, loc=loc,
             fparty=by, conductor=by, desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip


def _ht08(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    payers = w.counterparties(int(rng.integers(12, 19)))
    w.member(p, payers, "counterparty", False)
    who = np.r_[payers, payers[:2]]
    k = len(who)
    d0 = w.window(25)
    aud = rng.lognormal(np.log(280), 0.3, k)
    aud *= 280 / np.median(aud)  # median AUD 280 (USD ~187): inside [150, 350] read as AUD or as local units
    cents = w.from_currency(np.clip(aud, 160, 780).round(), "AUD")
    chan = np.where(rng.random(k) < 0.5, _CH["mobile_money"], _CH["transfer"])
    w.tx.add(who, s, d0 + rng.integers(0, 25, k), w.hours(k, 10, 23.9), cents, chan, pattern=p)


def _victim_income(w, p, victim, d0, d1, per_week=(3, 6)):
    """Client payments to ``victim`` between days d0..d1: (days, hours, cents)."""
    rng = w.rng
    weeks = max(1, (d1 - d0) / 7)
    k = int(rng.integers(int(per_week[0] * weeks), int(per_week[1] * weeks) + 1))
    clients = w.counterparties(max(3, int(rng.integers(10, 26))))
    w.member(p, clients, "counterparty", False)
    who = rng.choice(clients, k)
    days = np.sort(rng.integers(d0, d1, k))
    hours = w.hours(k, 11, 23.5)
    cents = w.from_currency(np.clip(rng.lognormal(np.log(300), 0.3, k), 160, 780).round(), "AUD")
    chan = np.where(rng.random(k) < 0.5, _CH["mobile_money"], _CH["transfer"])
    w.tx.add(who, victim, days, hours, cents, chan, pattern=p)
    return days, hours, cents


def _ht09(w, p):
    rng = w.rng
    ctrl = w.take(1)[0]
    victims = w.take(int(rng.integers(4, 6)), quiet=True)
    w.member(p, ctrl, "controller", True)
    w.member(p, victims, "victim", False)
    d0 = int(rng.integers(0, max(1, min(10, w.n_days - 45))))
    for v in victims:
        days, hours, cents = _victim_income(w, p, v, d0, w.n_days - 2)
        # hand over each day's takings the next morning / afternoon
        for d in np.unique(days):
            sel = days == d
            t_last = float(hours[sel].max())
            share = rng.uniform(0.75, 0.9)
            h = max(t_last + 2, 24 + rng.uniform(8, 20))
            w.tx.add(v, ctrl, int(d), h, int(cents[sel].sum() * share), "transfer", pattern=p)
        # a little spending of their own: food, pharmacy, cosmetics
        k = int(rng.integers(3, 8))
        _card_events(w, np.full(k, v), rng.choice([w.mcc_codes.index(c) for c in ("5814", "5912", "5977")], k),
                     rng.integers(d0, w.n_days, k), pattern=-1)  # fmt: skip


def _ht11(w, p):
    rng = w.rng
    ctrl = w.take(1)[0]
    victims = w.take(int(rng.integers(3, 6)), quiet=True)
    w.member(p, ctrl, "controller", True)
    w.member(p, victims, "victim", True)
    fam = [f for f in rng.permutation(len(_FAMILY)) if f != w.family[ctrl]][: len(victims)]
    w.family[victims] = fam
    w.household[victims] = -1
    w.phone_of[victims] = ctrl
    share_addr = rng.random(len(victims)) < 0.7
    share_addr[:2] = True
    w.address_key[victims[share_addr]] = w.address_key[ctrl]
    d0 = int(rng.integers(0, max(1, w.n_days - 30)))
    for v in victims:
        days, hours, cents = _victim_income(w, p, v, d0, w.n_days - 2, per_week=(2, 4))
        for wk in range(d0, w.n_days - 1, 7):
            sel = (days >= wk) & (days < wk + 7)
            if sel.any():
                amt = int(cents[sel].sum() * rng.uniform(0.4, 0.6))
                w.tx.add(v, ctrl, min(wk + 7, w.n_days - 1), float(rng.uniform(9, 20)), amt, "transfer", pattern=p)


def _worker_wages(w, worker, employer):
    """Payroll credits of ``worker`` by ``employer`` within the window: (days, cents)."""
    days = w.paydays(employer)
    monthly = int(w.usd(w.rng.uniform(1800, 3200)))
    amt = int(monthly * (12 / 26 if w.emp_biweekly[employer] else 1))
    return days, amt


def _fl01(w, p):
    rng = w.rng
    worker = w.take(1, quiet=True)[0]
    employer = int(rng.choice(w.employers))
    cash = rng.random() < 0.4
    w.member(p, worker, "subject", True)
    w.member(p, employer, "counterparty", False)
    ctrl = None
    if not cash:
        ctrl = w.take(1)[0]
        w.member(p, ctrl, "controller", False)
    days, amt = _worker_wages(w, worker, employer)
    key = w.desc.code(f"SALARY {w.names[employer].upper()}")
    for d in days:
        h = float(rng.uniform(6, 9))
        w.tx.add(employer, worker, int(d), h, amt, "transfer", pattern=p, desc=key, payroll=True)
        share = rng.uniform(0.85, 0.95)
        if cash:
            w.tx.add(worker, -1, int(d), h + rng.uniform(2, 30), int(amt * share), "cash_withdrawal", pattern=p,
                     loc=w.locations(np.array(w.region[worker]), "BR"), tparty=-1)  # fmt: skip
        else:
            w.tx.add(worker, ctrl, int(d), h + rng.uniform(2, 30), int(amt * share), "transfer", pattern=p)
    k = int(rng.integers(3, 7))
    _card_events(w, np.full(k, worker), np.full(k, w.mcc_codes.index("5411")), rng.integers(0, w.n_days, k))


def _fl02(w, p):
    rng = w.rng
    coll = w.take(1)[0]
    workers = w.take(int(rng.integers(4, 7)), quiet=True)
    employer = int(rng.choice(w.employers))
    w.member(p, coll, "subject", True)
    w.member(p, workers, "member", False)
    w.member(p, employer, "counterparty", False)
    direct = [w.new_party(w.region[coll]) for _ in range(int(rng.integers(1, 3)))]
    w.member_party(p, direct, "member")
    key = w.desc.code(f"SALARY {w.names[employer].upper()}")
    for v in workers:
        days, amt = _worker_wages(w, v, employer)
        for d in days:
            h = float(rng.uniform(6, 9))
            w.tx.add(employer, v, int(d), h, amt, "transfer", pattern=p, desc=key, payroll=True)
            w.tx.add(v, coll, int(d), h + rng.uniform(6, 60), int(amt * rng.uniform(0.7, 0.9)), "transfer", pattern=p)
    for q in direct:
        days, amt = _worker_wages(w, coll, employer)
        w.tx.add(employer, coll, days, w.hours(len(days), 6, 9), amt, "transfer", pattern=p, desc=key, payroll=True,
                 tparty=q)  # fmt: skip


def _hs01(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.region[s] = _N_REGIONS - 1 - int(rng.integers(0, _N_BORDER))
    w.member(p, s, "subject", True)
    k = int(rng.integers(7, 10))
    senders = w.counterparties(k, region_spread=4)
    w.member(p, senders, "counterparty", False)
    d0 = w.window(10)
    cents = w.usd(np.round(rng.uniform(0.4, 0.95, k) * 3000 / 10) * 10)
    w.tx.add(senders, s, d0 + rng.integers(0, 10, k), w.hours(k, 9, 18), cents, "wire", pattern=p,
             loc=w.locations(w.region[senders], "BR"), desc=w.desc.code("WIRE TRANSFER"))  # fmt: skip


def _hs03(w, p):
    rng = w.rng
    s = w.take(1)[0]
    corridor = country_lists()["migrant_flow"]["countries"]
    ben = w.take_foreign(corridor)
    w.member(p, s, "subject", True)
    w.member(p, ben, "member", False)
    d = w.window(24)
    for _ in range(2):
        k = int(rng.integers(2, 4))
        total = w.of_T(0.6, 1.4, 1)[0]
        parts = np.floor(rng.dirichlet(np.full(k, 5.0)) * total / (100 * w.unit)).astype(np.int64) * 100 * w.unit
        days = d + np.sort(rng.integers(0, 4, k))
        w.tx.add(-1, s, days, w.hours(k, 9, 17), parts, "cash_deposit", pattern=p,
                 loc=w.locations(np.full(k, w.region[s]), "BR"), fparty=s, conductor=s,
                 desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip
        h = 17 + rng.uniform(12, 60)
        w.tx.add(s, ben, int(days.max()), h, int(parts.sum() * rng.uniform(0.85, 0.98)), "remittance", pattern=p,
                 desc=w.desc.code("REMITTANCE"))  # fmt: skip
        d += int(rng.integers(10, 14))


_INJECT = {
    "ML-01": _ml01, "ML-02": _ml02, "ML-03": _ml03, "ML-04": _ml04, "ML-05": _ml05, "ML-06": _ml06, "ML-07": _ml07,
    "ML-08": _ml08, "ML-09": _ml09, "ML-10": _ml10, "ML-11": _ml11, "ML-12": _ml12, "ML-13": _ml13,
    "ML-14": _ml14, "ML-15": _ml15, "ML-17": _ml17, "ML-18": _ml18, "ML-19": _ml19, "ML-20": _ml20, "HT-01": _ht01, "HT-02": _ht02,
    "HT-03": _ht03, "HT-06": _ht06, "HT-07": _ht07, "HT-08": _ht08, "HT-09": _ht09, "HT-11": _ht11,
    "FL-01": _fl01, "FL-02": _fl02, "HS-01": _hs01, "HS-03": _hs03,
}  # fmt: skip
# foreign accounts a pattern takes (upper bound)
_FOREIGN_NEED = {"ML-12": 1, "ML-13": 3, "HS-03": 1}


# ---------------------------------------------------------------------------- assembly
def _resolve_typologies(typologies) -> list[str]:
    if typologies is None or typologies == "all":
        return list(TYPOLOGIES)
    if isinstance(typologies, str):
        typologies = [typologies]
    out = []
    for t in typologies:
        tid = t if t in TYPOLOGIES else _NAME_TO_ID.get(t)
        if tid is None:
            raise ValueError(
                f"unknown typology {t!r}; known ids: {', '.join(TYPOLOGIES)}; names: {', '.join(sorted(_NAME_TO_ID))}"
            )
        if tid not in out:
            out.append(tid)
    return out


def make_transactions(
    n_accounts: int = 2000,
    n_days: int = 90,
    *,
    typologies="all",
    n_per_typology: int = 5,
    jurisdiction: str = "US",
    start: str | date = "2024-01-01",
    random_state=None,
) -> tuple[Bundle, pa.Table]:
    """Generate a synthetic bank world with injected typologies and its ground truth.

    Parameters
    ----------
    n_accounts : int, default 2000
        Number of accounts (rows of ``accounts``): about 90 % persons, the rest
        employers, merchants, utilities, property managers, a benefits payer and
        accounts abroad. At least 200. Patterns may use at most half of the persons'
        accounts: all 28 typologies at 5 patterns each need about 1,300 accounts.
    n_days : int, default 90
        Length of the window in days, starting at ``start`` (local calendar days of
        the jurisdiction). At least 30, and at least the ``min_days`` of every
        requested typology (:data:`TYPOLOGIES`). Expect roughly
        ``n_accounts * n_days`` transactions (about 1.0-1.1 per account and day).
    typologies : "all" or sequence of str, default "all"
        Typologies to inject, by catalogue id (``"ML-05"``) or name (``"fan_in"``);
        ``[]`` for background only. ``"all"`` leaves out those whose ``min_days``
        exceed ``n_days`` (ML-14 needs 210 days, ML-18 130) and ML-17 where the
        jurisdiction has no secondary threshold (listed in the truth's ``skipped``
        metadata); naming one that does not fit raises.
    n_per_typology : int, default 5
        Patterns injected per typology.
    jurisdiction : str, default "US"
        Key of :func:`followmoney.core.config.jurisdictions`: the currency of every amount,
        the cash reporting threshold ``T`` that patterns are scaled to, and the time
        zone of local clock times.
    start : str or datetime.date, default "2024-01-01"
        First day of the window (ISO date).
    random_state : int, numpy.random.Generator or None, default None
        Seed for :func:`numpy.random.default_rng`. The same seed and arguments give an
        identical bundle and truth (ids included); ``None`` draws fresh entropy.

    Returns
    -------
    bundle : Bundle
        ``transactions`` (sorted by time; money ``decimal128(18, 3)`` in the
        jurisdiction's currency, built from integer cents; timestamps UTC with the
        jurisdiction's ``tz_offset_minutes``; channels from :data:`schema.CHANNELS`;
        ``merchant_category`` on card payments; ``country_from`` / ``country_to``;
        empty ``quality_flags``; the extra columns of :data:`EXTRA_COLUMNS`; benchmark
        labels ``is_laundering`` / ``typology`` / ``label_alert_id``), ``accounts``,
        ``parties`` (holders, plus persons without accounts: cash conductors and
        workers whose wages are paid into another account), ``party_accounts``,
        ``identifiers`` (phone, address, e-mail of persons), one ``DATASET`` report
        and a consistent ``load_log`` (:meth:`Bundle.reconcile` passes).
    truth : pyarrow.Table
        Schema :data:`TRUTH_SCHEMA`. Per injected pattern, one row per account or
        party of the pattern (``role``: ``subject``, ``controller``, ``victim``,
        ``member``, ``conductor``, or ``counterparty`` for innocent ordinary customers
        or merchants the pattern uses; ``is_subject`` marks those a rule for the
        typology should alert on; ``txn_id`` null), then one row per transaction of
        the pattern (``role = "transaction"``, ``account_id`` null, ``timestamp``).
        Its schema metadata holds ``n_accounts``, ``jurisdiction``, ``start`` and
        ``n_days`` (read by :func:`followmoney.evaluate.evaluate`).

    Raises
    ------
    ValueError
        On an unknown typology or jurisdiction, ``n_days`` shorter than a requested
        typology needs, or too few accounts for the requested patterns.

    See Also
    --------
    followmoney.evaluate.evaluate : recall, precision and F1 of alerts against ``truth``.

    Notes
    -----
    Generation is vectorised with NumPy (a million transactions in a few seconds).
    Amounts of background activity are drawn in USD and converted with a fixed,
    approximate rate into the jurisdiction's currency; pattern amounts are fractions
    of ``T`` or the source's own figure converted (AUD for AUSTRAC's HT-07/HT-08
    ranges, USD 3,000 for HS-01). Each account belongs to at most one pattern, except
    ordinary customers and merchants, which may be the ``counterparty`` of several.

    References
    ----------
    .. [1] ``shared/reference/indicators.md``: catalogue rows ML-01 ... HS-03 (sources
       and grades there): FinCEN FIN-2014-A008 and FIN-2020-A008, AUSTRAC/Fintel
       Alliance 2022, FINTRAC 2016-OA003, FATF-APG 2018, IBM AMLSim.

    Examples
    --------
    >>> b, truth = make_transactions(300, 60, typologies=["structuring"], n_per_typology=1, random_state=7)
    >>> subject = truth.filter(truth["is_subject"].fill_null(False))["account_id"][0].as_py()
    >>> import pyarrow.compute as pc
    >>> deposits = b.transactions.filter(pc.and_(pc.equal(b.transactions["to_account"], subject),
    ...                                            pc.equal(b.transactions["label_alert_id"], "ML-01#01")))
    >>> all(8500 <= float(a) < 10000 for a in deposits["amount"].to_pylist())
    True
    """
    if jurisdiction not in jurisdictions():
        raise ValueError(f"unknown jurisdiction {jurisdiction!r}; known: {', '.join(sorted(jurisdictions()))}")
    if int(n_accounts) != n_accounts or n_accounts < 200:
        raise ValueError(f"n_accounts must be an integer >= 200, got {n_accounts!r}")
    if int(n_days) != n_days or n_days < 30:
        raise ValueError(f"n_days must be an integer >= 30, got {n_days!r}")
    if int(n_per_typology) != n_per_typology or n_per_typology < 0:
        raise ValueError(f"n_per_typology must be an integer >= 0, got {n_per_typology!r}")
    ids = _resolve_typologies(typologies)
    short = [t for t in ids if TYPOLOGIES[t].min_days > n_days] if n_per_typology else []
    if short and not (typologies is None or typologies == "all"):
        need = ", ".join(f"{t} ({TYPOLOGIES[t].min_days})" for t in short)
        raise ValueError(f"n_days={n_days} is too short for typologies {need}; raise n_days or leave them out")
    if "ML-17" in ids and n_per_typology and jurisdictions()[jurisdiction].secondary_threshold is None:
        if not (typologies is None or typologies == "all"):
            raise ValueError(f"typology ML-17 needs a secondary threshold, which jurisdiction {jurisdiction} does not have")
        short.append("ML-17")
    ids = [t for t in ids if t not in short]
    start = date.fromisoformat(start) if isinstance(start, str) else start
    rng = np.random.default_rng(random_state)
    w = _World(int(n_accounts), int(n_days), jurisdiction, start, rng)
    w.skipped = short
    w.build_accounts(sum(_FOREIGN_NEED.get(t, 0) for t in ids) * n_per_typology)
    w.build_parties()
    for tid in ids:
        for _ in range(n_per_typology):
            _INJECT[tid](w, w.new_pattern(tid))
    _background(w)
    return _assemble(w)


def _assemble(w: _World) -> tuple[Bundle, pa.Table]:
    c = w.tx.columns()
    n_parties = w.n + len(w.extra_parties)
    # background activity only while both accounts are open (patterns are built consistent)
    day = c["day"] + np.floor_divide(c["hour"], 24).astype(np.int64)
    hour = np.mod(c["hour"], 24)
    bg = c["pattern"] < 0
    od = w.opened_day
    src_open = (c["src"] < 0) | (day >= od[np.maximum(c["src"], 0)])
    dst_open = (c["dst"] < 0) | (day >= od[np.maximum(c["dst"], 0)])
    ok = ~bg | (src_open & dst_open)
    ok &= ~bg | (day < w.n_days)
    c = {k: v[ok] for k, v in c.items()}
    day, hour = day[ok], hour[ok]
    offset = w.offset[day + 5]
    t_us = (w.epoch_day + day) * _DAY_US + np.round(hour * _HOUR_US).astype(np.int64) - offset * 60_000_000
    t_us = (t_us // 1_000_000) * 1_000_000  # whole seconds
    order = np.lexsort((w.rng.permutation(len(t_us)), t_us))
    c = {k: v[order] for k, v in c.items()}
    t_us, offset = t_us[order], offset[order]
    n = len(t_us)
    src, dst = c["src"], c["dst"]

    # ---- ids
    acct_no = _unique_numbers(w.rng, w.n, 10)
    account_ids = np.array([f"synth/{a}" for a in acct_no], dtype=object)
    party_ids = np.array([f"synth/P{w.tag[:6]}{i:07d}" for i in range(n_parties)], dtype=object)
    source_file = f"synth-{w.tag}"
    report_id = "R" + hashlib.blake2b(source_file.encode(), digest_size=8).hexdigest()
    rows = pa.array(np.arange(1, n + 1)).cast(pa.string())
    refs = pc.binary_join_element_wise(_const(source_file + ":", n), rows, "")
    # txn_id: hash of the source name and the row (SplitMix64 of a BLAKE2b seed xor the row number)
    seed = np.uint64(int.from_bytes(hashlib.blake2b(source_file.encode(), digest_size=8).digest(), "big"))
    txn_ids = _hex_ids("T", _mix64(np.arange(1, n + 1, dtype=np.uint64) ^ seed))

    # ---- parties
    fparty = np.where(c["fparty"] == -2, np.where(src >= 0, src, -1), c["fparty"])
    tparty = np.where(c["tparty"] == -2, np.where(dst >= 0, dst, -1), c["tparty"])
    chan = c["channel"]
    names = np.r_[w.names, np.array([nm for nm, _ in w.extra_parties], dtype=object)]
    # counterparty name as written: the beneficiary on card / wire / remittance payments
    named = np.isin(chan, [_CH["card"], _CH["wire"], _CH["remittance"]]) & (dst >= 0)
    cp_name = np.where(named, dst, -1)
    mcc = np.where((chan == _CH["card"]) & (dst >= 0), w.merchant_mcc[np.maximum(dst, 0)], -1)
    mcc_str = np.array([m[0] for m in _MCCS], dtype=object)
    country = w.country
    ccodes, cvalues = np.unique(np.r_[country, [w.home]].astype(str), return_inverse=True)
    home_code = cvalues[-1]
    c_from = np.where(src >= 0, cvalues[np.maximum(src, 0)], home_code)
    c_to = np.where(dst >= 0, cvalues[np.maximum(dst, 0)], home_code)
    # places: ATMs, branches, merchants' card terminals
    places, place_region = _places(w)
    loc = c["loc"]
    region_of = np.where(loc >= 0, place_region[np.maximum(loc, 0)], -1)
    domestic_src = (src >= 0) & (country[np.maximum(src, 0)] == w.home)
    region_of = np.where((region_of < 0) & domestic_src, w.region[np.maximum(src, 0)], region_of)
    region_names = np.array([_region_name(w, r) for r in range(_N_REGIONS)], dtype=object)
    pats = c["pattern"]
    pattern_ids = np.array([pp.pattern_id for pp in w.patterns], dtype=object)
    pattern_typ = np.array([pp.typology for pp in w.patterns], dtype=object)
    cents = c["cents"]
    money = schema.from_cents(np.asarray(cents, dtype=np.int64) * 10)  # hundredths -> thousandths
    cur = _const(w.currency, n)
    tx = {
        "txn_id": txn_ids,
        "report_id": _const(report_id, n),
        "source": _const("synth", n),
        "source_ref": refs,
        "source_txn_ref": rows,
        "timestamp": pa.array(t_us, pa.int64()).cast(schema.TIMESTAMP),
        "tz_offset_minutes": pa.array(offset.astype(np.int16), pa.int16()),
        "amount": money,
        "currency": cur,
        "amount_local": money,
        "currency_local": cur,
        "from_account": _take_str(account_ids, src),
        "to_account": _take_str(account_ids, dst),
        "from_party": _take_str(party_ids, fparty),
        "to_party": _take_str(party_ids, tparty),
        "channel": _take_str(np.array(schema.CHANNELS, dtype=object), chan),
        "description": w.desc.take(c["desc"]),
        "counterparty_name": _take_str(names, cp_name),
        "merchant_category": _take_str(mcc_str, mcc),
        "country_from": _take_str(ccodes, c_from),
        "country_to": _take_str(ccodes, c_to),
        "quality_flags": _empty_lists(n),
        "is_laundering": pa.array(pats >= 0),
        "typology": _take_str(pattern_typ, pats),
        "label_alert_id": _take_str(pattern_ids, pats),
        "location_id": _take_str(places, loc),
        "location_region": _take_str(region_names, region_of),
        "conductor_party": _take_str(party_ids, c["conductor"]),
        "is_payroll": pa.array(c["payroll"]),
    }
    transactions = schema.conform(pa.table(tx), "transactions")

    # ---- accounts, parties, links, identifiers
    accounts, parties, links, idents = _master_tables(w, account_ids, acct_no, party_ids, names, source_file, report_id)
    reports = schema.conform(
        [{"report_id": report_id, "format": "synth", "report_code": "DATASET", "reporting_entity": "synth",
          "submitted_at": datetime.combine(w.start + timedelta(days=w.n_days), datetime.min.time(), timezone.utc),
          "currency_local": w.currency, "reason": "synthetic data with injected typologies (followmoney.datasets.synth)",
          "source_file": source_file}],  # fmt: skip
        "reports",
    )
    tables = {"transactions": transactions, "accounts": accounts, "parties": parties, "party_accounts": links,
              "identifiers": idents, "reports": reports}  # fmt: skip
    log = [{"source_file": source_file, "source": "synth", "table": k, "records_read": t.num_rows,
            "rows_written": t.num_rows, "merged": 0, "rejected": 0} for k, t in tables.items()]  # fmt: skip
    bundle = Bundle(**tables, load_log=pa.Table.from_pylist(log, schema=schema.SCHEMAS["load_log"]))
    truth = _truth(w, account_ids, party_ids, txn_ids, t_us, pats)
    return bundle, truth


def _empty_lists(n: int) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string()))


def _unique_numbers(rng, k: int, digits: int) -> list[str]:
    vals = np.unique(rng.integers(0, 10**digits, 2 * k + 16))
    vals = rng.permutation(vals)[:k]
    return [f"{v:0{digits}d}" for v in vals]


def _region_name(w: _World, r: int) -> str:
    return f"{w.home}-R{r + 1:02d}"


def _places(w: _World) -> tuple[np.ndarray, np.ndarray]:
    """Place ids and regions: ATMs (6 per region), branches (3 per region), card terminals (one per account)."""
    ids, regions = [], []
    for r in range(_N_REGIONS):
        for k in range(6):
            ids.append(f"ATM-{_region_name(w, r)}-{k + 1:02d}")
            regions.append(r)
    for r in range(_N_REGIONS):
        for k in range(3):
            ids.append(f"BR-{_region_name(w, r)}-{k + 1:02d}")
            regions.append(r)
    for a in range(w.n):
        ids.append(f"POS-{_region_name(w, int(w.region[a]))}-{a:06d}")
        regions.append(int(w.region[a]))
    return np.array(ids, dtype=object), np.array(regions, np.int64)


def _master_tables(w, account_ids, acct_no, party_ids, names, source_file, report_id):
    n = w.n
    opened = (w.epoch_day + w.opened_day) * _DAY_US
    foreign = w.country != w.home
    banks = np.array([f"SYNBANK{b + 1}" for b in range(5)], dtype=object)
    institution = np.where(foreign, np.array([f"FOREIGN BANK {c}" for c in w.country], dtype=object), banks[w.bank])
    region_names = np.array([_region_name(w, r) for r in range(_N_REGIONS)], dtype=object)
    refs = np.array([f"{source_file}#accounts/{i + 1}" for i in range(n)], dtype=object)
    accounts = schema.conform(
        pa.table({
            "account_id": pa.array(account_ids, pa.string()),
            "institution": pa.array(institution, pa.string()),
            "account_number": pa.array(acct_no, pa.string()),
            "name": pa.array(names[:n], pa.string()),
            "currency": pa.array(np.where(foreign, None, w.currency), pa.string()),
            "country": pa.array(w.country, pa.string()),
            "opened": pa.array(opened, pa.int64()).cast(schema.TIMESTAMP),
            "status": pa.array(np.full(n, "active", dtype=object), pa.string()),
            "source_ref": pa.array(refs, pa.string()),
            "home_region": pa.array(np.where(foreign, None, region_names[w.region]), pa.string()),
        }),
        "accounts",
    )  # fmt: skip
    person = w.kind == _PERSON
    kind = np.where(person | (w.kind == _FOREIGN), "person", "entity")
    n_extra = len(w.extra_parties)
    occupation = np.array(
        ["customer" if k == _PERSON else {_EMPLOYER: "employer", _MERCHANT: "merchant", _UTILITY: "utility",
                                          _PROPERTY: "property management", _GOV: "government",
                                          _FOREIGN: None}[k] for k in w.kind],
        dtype=object,
    )  # fmt: skip
    birth = np.where(person, w.rng.integers(-18_000, 2_000, n), w.rng.integers(-15_000, 15_000, n))  # days since 1970
    extra_birth = w.rng.integers(-18_000, 2_000, n_extra)
    given = np.array([_GIVEN[g] for g in w.given], dtype=object)
    family = np.array([_FAMILY[f] for f in w.family], dtype=object)
    names_person = np.array([f"{g} {f}" for g, f in zip(given, family)], dtype=object)
    pname = np.where(person, names_person, names[:n])
    ext_given = [nm.split(" ", 1)[0] for nm, _ in w.extra_parties]
    ext_family = [nm.split(" ", 1)[1] for nm, _ in w.extra_parties]
    nationality = w.country.copy()
    nationality[list(w.nationality)] = list(w.nationality.values())
    parties = schema.conform(
        pa.table({
            "party_id": pa.array(party_ids, pa.string()),
            "kind": pa.array(np.r_[kind, np.full(n_extra, "person")].astype(object), pa.string()),
            "name": pa.array(np.r_[pname, np.array([nm for nm, _ in w.extra_parties], dtype=object)], pa.string()),
            "given_name": pa.array(np.r_[np.where(person, given, None), ext_given].astype(object), pa.string()),
            "family_name": pa.array(np.r_[np.where(person, family, None), ext_family].astype(object), pa.string()),
            "birth_date": pa.array(np.r_[birth, extra_birth].astype(np.int32), pa.int32()).cast(pa.date32()),
            "nationality": pa.array(np.r_[nationality, np.full(n_extra, w.home)].astype(object), pa.string()),
            "country": pa.array(np.r_[w.country, np.full(n_extra, w.home)].astype(object), pa.string()),
            "occupation": pa.array(np.r_[occupation, np.full(n_extra, None)].astype(object), pa.string()),
            "report_id": pa.array(np.full(n + n_extra, report_id, dtype=object), pa.string()),
            "source_ref": pa.array([f"{source_file}#parties/{i + 1}" for i in range(n + n_extra)], pa.string()),
        }),
        "parties",
    )  # fmt: skip
    # the name on a person's account is the holder's name
    links = schema.conform(
        pa.table({
            "party_id": pa.array(party_ids[:n], pa.string()),
            "account_id": pa.array(account_ids, pa.string()),
            "role": pa.array(np.full(n, "holder", dtype=object), pa.string()),
            "source_ref": pa.array(refs, pa.string()),
        }),
        "party_accounts",
    )  # fmt: skip
    # identifiers of domestic persons: phone (possibly someone else's), address, e-mail
    pp = np.flatnonzero(person)
    cc = _PHONE_CC.get(w.home, "999")
    phone_val = np.array([f"+{cc}{w.phone[w.phone_of[i]]:09d}" for i in pp], dtype=object)
    phone_raw = np.array([f"+{cc} {v[len(cc) + 1:len(cc) + 4]} {v[len(cc) + 4:]}" for v in phone_val], dtype=object)
    ak = w.address_key[pp]
    reg = region_names[w.region[ak]]
    addr_raw = np.array([f"{w.addr_no[k]} {_STREETS[w.street[k]]} Street, {r}" for k, r in zip(ak, reg)], dtype=object)
    addr_val = np.array([s.lower().replace(",", "") for s in addr_raw], dtype=object)
    em = pp[w.has_email[pp]]
    email = np.array([f"{_GIVEN[w.given[i]].lower()}.{_FAMILY[w.family[i]].lower()}{i % 97}@example.com" for i in em],
                     dtype=object)  # fmt: skip
    owner = np.r_[party_ids[pp], party_ids[pp], party_ids[em]]
    kinds = np.r_[np.full(len(pp), "phone"), np.full(len(pp), "address"), np.full(len(em), "email")].astype(object)
    vals = np.r_[phone_val, addr_val, email]
    raws = np.r_[phone_raw, addr_raw, email]
    irefs = np.array([f"{source_file}#identifiers/{i + 1}" for i in range(len(owner))], dtype=object)
    idents = schema.conform(
        pa.table({
            "owner_kind": pa.array(np.full(len(owner), "party", dtype=object), pa.string()),
            "owner_id": pa.array(owner, pa.string()),
            "kind": pa.array(kinds, pa.string()),
            "value": pa.array(vals, pa.string()),
            "raw": pa.array(raws, pa.string()),
            "source_ref": pa.array(irefs, pa.string()),
        }),
        "identifiers",
    )  # fmt: skip
    return accounts, parties, links, idents


def _truth(w, account_ids, party_ids, txn_ids, t_us, pats) -> pa.Table:
    """Per pattern: its account / party rows, then its transactions in time order."""
    names = np.array([TYPOLOGIES[pp.typology].name for pp in w.patterns], dtype=object)
    typs = np.array([pp.typology for pp in w.patterns], dtype=object)
    pids = np.array([pp.pattern_id for pp in w.patterns], dtype=object)
    pat, acc, party, role, subj = [], [], [], [], []
    for i, pp in enumerate(w.patterns):
        seen = set()
        for a, q, r, s_ in pp.members:
            if (a, q, r) in seen:
                continue
            seen.add((a, q, r))
            pat.append(i)
            acc.append(a)
            party.append(q)
            role.append(r)
            subj.append(s_)
    pat = np.array(pat, np.int64)
    rows = np.flatnonzero(pats >= 0)
    rows = rows[np.argsort(pats[rows], kind="stable")]  # rows are in time order already
    tp = pats[rows]
    n_a, n_t = len(pat), len(rows)
    order_pat = np.r_[pat, tp]
    order = np.lexsort((np.r_[np.zeros(n_a), np.ones(n_t)], order_pat), axis=0) if n_a + n_t else np.zeros(0, np.int64)
    allp = order_pat[order]
    is_txn = np.r_[np.zeros(n_a, bool), np.ones(n_t, bool)][order]
    acc_col = _take_str(account_ids, np.r_[np.array(acc, np.int64), np.full(n_t, -1)][order])
    party_col = _take_str(party_ids, np.r_[np.array(party, np.int64), np.full(n_t, -1)][order])
    role_vals = ["transaction"] + sorted(set(role))
    role_codes = np.r_[np.array([role_vals.index(r) for r in role], np.int64), np.zeros(n_t, np.int64)][order]
    subj_col = pa.array(np.r_[np.array(subj, bool), np.zeros(n_t, bool)][order], mask=is_txn)
    txn_pos = np.r_[np.full(n_a, -1), np.arange(n_t)][order]
    tid = pc.take(txn_ids, pa.array(rows[np.maximum(txn_pos, 0)] if n_t else np.zeros(len(order), np.int64)))
    tid = pc.if_else(pa.array(is_txn), tid, pa.scalar(None, pa.string())) if len(order) else pa.array([], pa.string())
    ts = pa.array(np.where(is_txn, t_us[rows[np.maximum(txn_pos, 0)]] if n_t else 0, 0), mask=~is_txn)
    meta = {"n_accounts": str(w.n), "jurisdiction": w.jcode, "start": w.start.isoformat(), "n_days": str(w.n_days),
            "generator": "followmoney.datasets.synth.make_transactions", "skipped": ",".join(w.skipped)}  # fmt: skip
    return pa.table(
        {
            "typology": _take_str(typs, allp),
            "typology_name": _take_str(names, allp),
            "pattern_id": _take_str(pids, allp),
            "account_id": acc_col,
            "party_id": party_col,
            "role": _take_str(role_vals, role_codes),
            "is_subject": subj_col,
            "txn_id": tid,
            "timestamp": ts.cast(pa.int64()).cast(schema.TIMESTAMP),
        },
        schema=TRUTH_SCHEMA.with_metadata(meta),
    )
