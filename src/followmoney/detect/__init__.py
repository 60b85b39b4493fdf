"""Detection: typology rules, point-in-time features and learned models → alerts → cases.

Public face of the stage; the modules beneath are :mod:`~followmoney.detect.rules`
(the typology library), :mod:`~followmoney.detect.features`,
:mod:`~followmoney.detect.models` (scikit-learn scorers; imported only when used),
:mod:`~followmoney.detect.score` (running the rules), :mod:`~followmoney.detect._assembly`
(one alert assembly for rules and models alike) and :mod:`~followmoney.detect.cases`.
"""

from followmoney.detect.cases import build_cases, suppress_repeats
from followmoney.detect.score import score

__all__ = ["score", "build_cases", "suppress_repeats"]
