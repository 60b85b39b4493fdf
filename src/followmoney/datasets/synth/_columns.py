"""Column buffers of the generated transactions, and strings coded as integers.

While generating, strings are integer codes (-1 = null) and transactions are appended
as NumPy column chunks; they become Arrow columns only when the tables are assembled.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from followmoney.datasets.synth._reference import _CH


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
