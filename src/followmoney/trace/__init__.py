"""Follow tainted funds through accounts, forward and backward in time.

Confiscating the proceeds of trafficking needs an answer a court accepts to "where did
the tainted money go, and how much of this balance is it?". Forensic accountants answer
it with *allocation rules* that say which part of a mixed (commingled) balance an outgoing
payment is deemed to take. This module applies those rules to bank transactions, exactly
to the cent:

* :func:`forward` follows taint from a source (an account holding a tainted amount at a
  time, an account all of whose receipts are proceeds, or a set of tainted transactions)
  through later payments, hop by hop, strictly forward in time, across accounts.
* :func:`backward` answers "which sources funded this balance (or this purchase), and
  how much from each".

Both return a :class:`TraceResult` with tables of hops, end positions, sources and exits,
the assumptions made, a plain-words :meth:`~TraceResult.summary` for a case file and a
flow diagram (:meth:`~TraceResult.plot`).

Allocation rules (``method=``)
------------------------------
``"fifo"`` -- first in, first out
    A payment takes the oldest money in the account first: the account is a queue of
    parcels in order of receipt. The rule of *Clayton's Case* (Devaynes v Noble (1816)
    1 Mer 572) for running accounts; English courts now often displace it as arbitrary
    between innocent contributors (*Barlow Clowes v Vaughan* [1992] 4 All ER 22), but it
    remains the usual default in accounting.
``"lifo"`` -- last in, first out
    A payment takes the most recent receipts first: the account is a stack. The mirror
    of FIFO, used by forensic accountants as a sensitivity check and in forfeiture
    cases ("drugs-in, first-out"; see *United States v Banco Cafetero Panama*, 797 F.2d
    1154 (2d Cir. 1986)).
``"pro_rata"`` -- proportional, "well mixed", the haircut or rolling charge
    Every payment carries taint in proportion to the account's tainted share just before
    it: money is a well-mixed fluid. The "North American" rolling charge considered in
    *Barlow Clowes v Vaughan*; *Banco Cafetero* discusses it for forfeiture too.
``"libr"`` -- lowest intermediate balance rule
    The account holder is presumed to spend their own (clean) money first (*Re Hallett's
    Estate* (1880) 13 Ch D 696), so a payment carries taint only when the clean part of
    the balance is exhausted; the taint left in the account can never exceed the lowest
    balance since it arrived, and later clean deposits do not restore it (*James Roscoe
    (Bolton) Ltd v Winder* [1915] 1 Ch 62; *Bishopsgate Investment Management v Homan*
    [1995] Ch 211). The choice a claimant may have to follow a traceable asset instead
    (*Re Oatway* [1903] 2 Ch 356) is not modelled.

Conventions (what a reader of the output must know)
---------------------------------------------------
* **One global order.** Transactions are processed in time order; rows of one timestamp
  in their source's own order (``source_seq``: statement position, line), then by
  ``txn_id``; same inputs, same output, row for row. A date-only row
  (``time_precision`` day) counts from the start of the date its source wrote,
  whatever the source (:func:`followmoney.core.timing.comparable_time`).
* **Exact money.** Amounts are integer thousandths (:func:`followmoney.core.schema.to_cents`);
  no float touches money. Pro-rata shares are rounded *down* to whole minor units of
  the currency (cents, fils, yen; the remainder stays in the account); when several
  tainted sources share one account, a payment's tainted amount is split among them by the largest-remainder (Hamilton)
  method in whole minor units, ties to the earlier source. So total taint is conserved exactly:
  ``created = still held + left the trace``, at every account and every step.
* **Within one payment** the parcels keep their order from the paying account (FIFO:
  oldest first; LIFO: bottom of the stack first), so the receiving account queues them
  in that order.
* **Opening balances.** Where the data do not state an account's balance, its opening
  balance is taken to be the smallest one that never lets the balance fall below zero
  over all its transactions in the data (clean money, present before the first record);
  the result's ``assumptions`` say so. Known opening balances can be passed; where an
  account then pays out more than it holds, the shortfall is taken as clean money from
  outside the data, arriving just before the payment, and reported.
* **Currencies** are never added: each trace follows one currency and reports the
  transactions it skipped, unless a rate table is given; then every amount is converted
  explicitly into one currency and each hop row records the rate used.
* Self-transfers (``from_account == to_account``) move nothing and are ignored;
  transactions without a timestamp or a positive amount are left out and counted.

Hops, limits and time
---------------------
A *hop* is one payment: the source accounts are at depth 0, a payment by an account at
depth ``d`` is hop ``d + 1``, and an account's depth is the fewest hops by which taint
has reached it so far. Taint is only ever carried by a payment that comes after its
arrival in the global order (same timestamp: source order, then the smaller ``txn_id``). Taint that
stops being followed *leaves the trace* and is counted in ``exits`` by reason: paid to
cash or an unknown recipient, paid on by an account at the hop limit (such an account
still holds and allocates its taint; only what it pays on is not followed), or moved in
a payment carrying less than ``min_amount``. So ``created = held + exited`` always.

Scale
-----
Only accounts that hold taint have a ledger, and only their payments are visited:
balances, cumulative receipts and payments of every account are precomputed once,
vectorised, per currency (:class:`TraceIndex`), so clean deposits into a tainted account
are accounted for without visiting them (FIFO positions become intervals on the
account's cumulative-receipt axis, LIFO positions intervals of balance height, pro-rata
and LIBR need only the balance). Next payments of tainted accounts come from a heap over
per-account sorted positions. A forward trace costs ``O(n log n)`` preparation plus
``O(k (log a + p))`` for the ``k`` payments of tainted accounts it visits (``a`` tainted
accounts, ``p`` taint parcels per account: 1 for one source under pro-rata and LIBR).

Examples
--------
>>> import followmoney as fm
>>> from followmoney import trace
>>> b = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv", progress=False)
>>> r = trace.forward(b, "amlsim/475", amount="500.00", since="2017-01-01", method="libr", hops=3)
>>> r.totals.to_pylist()[0]["tainted"]
Decimal('500.000')
>>> r.check_conservation()
True
"""

from followmoney.exceptions import TraceError
from followmoney.trace._api import backward, forward
from followmoney.trace._common import _METHOD_WORDS, METHODS, STOP_REASONS  # noqa: F401  (_METHOD_WORDS: view.plot)
from followmoney.trace._index import TraceIndex
from followmoney.trace._result import TraceResult

__all__ = ["METHODS", "STOP_REASONS", "TraceError", "TraceIndex", "TraceResult", "backward", "forward"]
