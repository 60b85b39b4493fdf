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

from followmoney.datasets.synth._assembly import EXTRA_COLUMNS
from followmoney.datasets.synth._catalogue import TYPOLOGIES, Typology
from followmoney.datasets.synth._make import make_transactions
from followmoney.datasets.synth._truth import TRUTH_SCHEMA

__all__ = ["make_transactions", "TYPOLOGIES", "Typology", "TRUTH_SCHEMA", "EXTRA_COLUMNS"]
