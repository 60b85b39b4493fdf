"""Keyed, balanced record-level Bloom filters (CLKs) of a person's name and birth date.

Parameters and their sources
----------------------------
* ``CLK_BITS = 1024`` bits before balancing and ``NAME_HASHES = 15`` hash positions per
  name bigram: the setting measured in ``shared/reference/fiu-cooperation.md`` §2.5
  (precision 0.979, recall 0.934 at Dice 0.80 on one-typo pairs), after Schnell,
  Bachteler & Reiher (2011) "A novel error-tolerant anonymous linking code".
* ``DOB_HASHES = 30`` positions for each of the three birth-date features (full date,
  year, month-day): field weighting as in clkhash schemas; doubled over the name weight
  so that a namesake born on another day scores below a one-typo pair of one person
  (checked in ``tests/test_share.py``).
* Positions by keyed double hashing, ``(h1 + i*h2) mod CLK_BITS`` with ``h1, h2`` from
  HMAC-SHA256(K_clk, feature) (Kirsch & Mitzenmacher 2006; the keyed variant of
  Schnell et al. 2009).
* Hardening: *balancing* (Schnell & Borgs 2016, "Randomized response and balanced Bloom
  filters for privacy preserving record linkage"; ``pprl_core.harden.balance``): the
  filter is concatenated with its complement and permuted with a key-derived
  permutation, so every exported CLK has exactly ``CLK_BITS`` ones out of
  ``2 * CLK_BITS`` and bit counts no longer reveal name length.
* ``DICE_THRESHOLD = 0.94``: Dice similarity of two balanced CLKs at or above which a pair
  is a candidate. Every balanced CLK has ``CLK_BITS`` ones, so balanced Dice is
  ``1 - H / (2 * CLK_BITS)`` for the Hamming distance ``H`` of the unhardened filters: it
  runs higher than raw Dice. Calibrated on :func:`followmoney.share.two_fius` worlds
  (measured, seeds 0-2): one-typo pairs of one person scored >= 0.948, namesakes born
  in the same year on another day <= 0.926; ``tests/test_share.py`` checks recall >= 0.90
  at precision >= 0.95.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

__all__ = ["CLK_BITS", "NAME_HASHES", "DOB_HASHES", "DICE_THRESHOLD", "encode", "dice_pairs"]

CLK_BITS = 1024
NAME_HASHES = 15
DOB_HASHES = 30
DICE_THRESHOLD = 0.94


def _features(name_key: str, dob: str) -> list[tuple[str, int]]:
    feats = []
    for tok in name_key.split():
        padded = f"_{tok}_"
        feats.extend((f"n:{padded[i:i + 2]}", NAME_HASHES) for i in range(len(padded) - 1))
    feats += [(f"d:{dob}", DOB_HASHES), (f"y:{dob[:4]}", DOB_HASHES), (f"md:{dob[5:]}", DOB_HASHES)]
    return feats


def _permutation(key: bytes) -> np.ndarray:
    seed = int.from_bytes(hmac.new(key, b"balance-permutation", hashlib.sha256).digest()[:16], "big")
    return np.random.default_rng(seed).permutation(2 * CLK_BITS)


def encode(records, key: bytes) -> np.ndarray:
    """Balanced CLKs of ``(sorted name key, ISO birth date)`` records.

    Parameters
    ----------
    records : sequence of (str, str)
        Name key (:func:`followmoney.normalize.sorted_name_key`) and ``YYYY-MM-DD``.
    key : bytes
        The CLK sub-key of a :class:`~followmoney.share.PairKey`.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(n, 2 * CLK_BITS / 8)``: packed bits.
    """
    perm = _permutation(key)
    bits = np.zeros((len(records), CLK_BITS), dtype=bool)
    cache: dict[tuple[str, int], list[int]] = {}
    for r, (name_key, dob) in enumerate(records):
        for feat, k in _features(name_key, dob):
            pos = cache.get((feat, k))
            if pos is None:
                d = hmac.new(key, feat.encode(), hashlib.sha256).digest()
                h1, h2 = int.from_bytes(d[:8], "big"), int.from_bytes(d[8:16], "big") | 1
                pos = cache[(feat, k)] = [(h1 + i * h2) % CLK_BITS for i in range(k)]
            bits[r, pos] = True
    balanced = np.concatenate([bits, ~bits], axis=1)[:, perm]
    return np.packbits(balanced, axis=1)


def dice_pairs(left: np.ndarray, right: np.ndarray, threshold: float = DICE_THRESHOLD, chunk: int = 2048):
    """One-to-one pairs of CLKs with Dice similarity >= ``threshold``, best first (greedy).

    Parameters
    ----------
    left, right : numpy.ndarray
        Packed CLKs from :func:`encode`.
    threshold : float, default :data:`DICE_THRESHOLD`

    Returns
    -------
    list of (int, int, float)
        ``(left index, right index, dice)``; each index appears at most once.

    Notes
    -----
    All pairs are compared (``O(len(left) * len(right))``, as a float32 matrix product
    in chunks); agree a blocking scheme with the partner for large exchanges.
    """
    if len(left) == 0 or len(right) == 0:
        return []
    lb = np.unpackbits(left, axis=1).astype(np.float32)
    rb = np.unpackbits(right, axis=1).astype(np.float32)
    ls, rs = lb.sum(1), rb.sum(1)
    cands = []
    for i0 in range(0, len(lb), chunk):
        inter = lb[i0:i0 + chunk] @ rb.T
        dice = 2 * inter / (ls[i0:i0 + chunk, None] + rs[None, :])
        ii, jj = np.nonzero(dice >= threshold)
        cands.extend(zip((ii + i0).tolist(), jj.tolist(), dice[ii, jj].tolist()))
    cands.sort(key=lambda c: (-c[2], c[0], c[1]))
    used_l, used_r, out = set(), set(), []
    for i, j, d in cands:
        if i in used_l or j in used_r:
            continue
        used_l.add(i)
        used_r.add(j)
        out.append((i, j, round(d, 4)))
    return out
