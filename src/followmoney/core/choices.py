"""The names a user chooses among on the command line, and the run's exit codes.

They are declared here, apart from the code that implements them, so that
``followmoney --help`` and option checking need no adapter, tracer or exporter
loaded. Each stage takes its list from here; the tests check that every list equals
the registry it names (``followmoney.ingest.ADAPTERS``, ``followmoney.trace.METHODS``).

Examples
--------
>>> from followmoney.core.choices import INPUT_FORMATS, TRACE_METHODS
>>> INPUT_FORMATS[:3], "libr" in TRACE_METHODS
(('fm_package', 'goaml', 'fincen'), True)
"""

from __future__ import annotations

__all__ = ["INPUT_FORMATS", "TRACE_METHODS", "EXPORT_FORMATS", "EXCEL_MAX_CASES", "EXIT_CODES"]

#: Input formats of :func:`followmoney.read` (``--format``), in sniffing order.
INPUT_FORMATS = ("fm_package", "goaml", "fincen", "auth", "camt", "pacs008", "pain001", "mt103", "mt940", "amlsim", "ibm_aml", "bank_csv")

#: Allocation rules of the tracer (``method=``, ``--method``).
TRACE_METHODS = ("fifo", "lifo", "pro_rata", "libr")

#: Formats of :func:`followmoney.pipeline.export_run` (``followmoney export --to``).
EXPORT_FORMATS = ("i2", "graphml", "gexf", "ftm")

#: Cases (of highest risk) in a run's ``cases.xlsx`` by default; all are in ``cases.parquet``/``cases.csv``.
EXCEL_MAX_CASES = 10_000

#: Exit codes of the command line, by outcome.
EXIT_CODES = {"complete": 0, "internal_error": 1, "input": 2, "config": 3, "complete_with_failures": 4, "missing_extra": 5}
