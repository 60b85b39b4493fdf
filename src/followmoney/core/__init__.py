"""The data model every stage shares: table contracts, the Bundle, configuration, storage.

``followmoney.core`` imports nothing else from followmoney (but :mod:`followmoney.exceptions`
and :mod:`followmoney._version`, the two leaves). Modules:

- :mod:`~followmoney.core.schema`: every canonical table contract;
- :mod:`~followmoney.core.choices`: what the command line offers (formats, methods, exit codes);
- :mod:`~followmoney.core.bundle`: :class:`Bundle`, the set of canonical tables;
- :mod:`~followmoney.core.config`: :class:`Config`, jurisdictions, ``config()``;
- :mod:`~followmoney.core.settings`: :class:`Settings`, the base of every settings class;
- :mod:`~followmoney.core.store`: Parquet store with a manifest;
- :mod:`~followmoney.core.ids`, :mod:`~followmoney.core.units`: ids, time and money units;
- :mod:`~followmoney.core.frame`: the frame every detector reads;
- :mod:`~followmoney.core.memory`: returning freed Arrow memory to the system between stages.
"""

from followmoney.core.bundle import Bundle
from followmoney.core.config import Config, config, get_config
from followmoney.core.settings import Settings, setting
from followmoney.core.store import read_bundle, write_bundle

__all__ = ["Bundle", "Config", "Settings", "config", "get_config", "read_bundle", "setting", "write_bundle"]
