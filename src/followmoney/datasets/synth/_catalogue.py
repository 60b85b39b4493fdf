"""The catalogue of injectable typologies: :class:`Typology` and :data:`TYPOLOGIES`.

Each row names a typology of ``shared/reference/indicators.md`` by its catalogue id (the
rule id), with the shortest window it fits into and the shape that is injected.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def resolve_typologies(typologies) -> list[str]:
    """Catalogue ids of the requested typologies, in the order asked, each once.

    Parameters
    ----------
    typologies : "all", None, str or sequence of str
        Typologies by catalogue id (``"ML-05"``) or name (``"fan_in"``); ``"all"`` or
        ``None`` for every one of :data:`TYPOLOGIES`, in catalogue order.

    Returns
    -------
    list of str
        Catalogue ids.

    Raises
    ------
    ValueError
        On a typology that is neither an id nor a name of the catalogue.

    Examples
    --------
    >>> resolve_typologies(["fan_in", "ML-01", "ML-05"])
    ['ML-05', 'ML-01']
    """
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
