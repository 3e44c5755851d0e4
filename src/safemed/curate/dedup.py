"""Near-duplicate seeds by MinHash LSH: which items say (almost) the same thing as an earlier one.

Curation step "Dedup and contamination" of SafeMed-R1: before seeds go to clinicians, items
whose text is a near copy of an earlier item (Jaccard similarity of their shingle sets at least
``threshold``, estimated by MinHash) are grouped; the first-seen item of a group is kept and the
others are flagged. Use it as::

    groups = near_duplicates((item.id, item.question) for item in seeds)
    flagged = {i for group in groups for i in group[1:]}

How it works (and why it is fast). Texts are tokenised and cut into 3-token shingles by
:mod:`safemed.curate.ngrams`. The MinHash signature (``num_perm`` values) is computed with numpy
for a batch of texts at once: every shingle hash ``x`` goes through ``num_perm`` random
multiply-add-shift hash functions ``(a*x + b) >> 32`` (64-bit wrapping arithmetic, ``a`` odd), and
``np.minimum.reduceat`` takes each text's minimum per function. This is the same estimator as
``datasketch.MinHash`` (which hashes each shingle with SHA-1 and permutes in a Python loop per
text) at a fraction of the cost: 362,000 stems of ~68 words take ~40 s on one core, where
datasketch's loop would take ~320 s (``benchmarks/dedup_bench.py``).

The LSH banding (``b`` bands of ``r`` rows) is chosen by ``datasketch.MinHashLSH``'s own optimiser,
weighted towards recall (false negatives cost 0.9, false positives 0.1) because every candidate
pair is then *verified* by the signature estimate; at 0.8 and 128 permutations that is 14 bands
of 9 rows, which makes a pair at Jaccard 0.8 a candidate with probability 0.87 and at 0.85 with
0.97. An item is compared only with *kept* items (greedy clustering in input order): it joins the
group of the earliest kept item it matches, or becomes a kept item itself. Chains therefore do
not grow (a flagged item never pulls in a third text), and only kept items are indexed.

Memory is bounded by the number of kept items, not by text length or the stream: texts are
consumed ``batch_size`` at a time; per kept item the index holds ``b`` band keys (8 bytes) and
item numbers (4 bytes), its id string, and a ``num_perm``-byte signature (the lowest 8 bits of each
MinHash value: b-bit minwise hashing, Li & König 2010, whose Jaccard estimate is corrected for the
1/256 chance agreement). At 128 permutations that is ~350 bytes per kept item, ~125 MB for 350,000
distinct items, plus the working arrays of one batch (tokens and shingles of 4,096 texts, a
16,384 x ``num_perm`` uint64 MinHash step): the benchmark measures ~190 MB of peak RSS growth for
362,000 stems.

Texts with no tokens (empty or punctuation only) are skipped. The result is deterministic for a
given ``seed``: hashes are BLAKE2b and the permutations come from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np
import numpy.typing as npt
from datasketch import MinHashLSH

from safemed.curate.ngrams import SHINGLE, TokenHasher, batch_token_hashes, ngram_hashes, tokens

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

_CHUNK = 16_384  # shingles per numpy MinHash step: a (16384, num_perm) uint64 array, 16 MB at 128


def band_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """``(bands, rows)`` from datasketch's LSH optimiser, weighted to recall (FN 0.9, FP 0.1)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if num_perm < 2:
        raise ValueError(f"num_perm must be at least 2, got {num_perm}")
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))
    return int(lsh.b), int(lsh.r)


class MinHasher:
    """Vectorised MinHash: ``num_perm`` multiply-add-shift hash functions drawn from ``seed``."""

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a: U64 = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b: U64 = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)

    def signatures(self, shingles: U64, owner: I64, n_texts: int) -> U32:
        """The ``(n_texts, num_perm)`` signatures; a text with no shingle gets all ``2**32 - 1``."""
        sig = np.full((n_texts, self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        for lo in range(0, len(shingles), _CHUNK):
            x = shingles[lo : lo + _CHUNK]
            who = owner[lo : lo + _CHUNK]
            values = np.multiply.outer(x, self.a)
            values += self.b
            values >>= np.uint64(32)
            cuts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
            mins = np.minimum.reduceat(values, cuts, axis=0).astype(np.uint32)
            rows = who[cuts]
            sig[rows] = np.minimum(sig[rows], mins)
        return sig


class _Bands:
    """Band keys of signatures, and a sorted-array LSH index of kept items (one per band)."""

    def __init__(self, bands: int, rows: int, seed: int) -> None:
        rng = np.random.default_rng([seed, 0xBA2D])
        self.bands, self.rows = bands, rows
        self.weights: U64 = rng.integers(0, 2**63, size=rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.keys: list[U64] = [np.zeros(0, dtype=np.uint64) for _ in range(bands)]
        self.kept: list[I32] = [np.zeros(0, dtype=np.int32) for _ in range(bands)]

    def of(self, sig: U32) -> U64:
        """The ``(len(sig), bands)`` band keys: a 64-bit hash of each band's ``rows`` values."""
        used = sig[:, : self.bands * self.rows].reshape(len(sig), self.bands, self.rows).astype(np.uint64)
        keys: U64 = (used * self.weights).sum(axis=2, dtype=np.uint64)
        return keys

    def candidates(self, keys: U64) -> tuple[I64, I64]:
        """``(row, kept_number)`` pairs where row ``row`` of ``keys`` shares a band with a kept item."""
        rows: list[I64] = []
        found: list[I64] = []
        for band in range(self.bands):
            index = self.keys[band]
            if not len(index):
                continue
            left = np.searchsorted(index, keys[:, band], side="left")
            right = np.searchsorted(index, keys[:, band], side="right")
            count = right - left
            hit = np.flatnonzero(count)
            if not len(hit):
                continue
            reps = np.repeat(hit, count[hit])
            first = np.repeat(left[hit] - np.cumsum(count[hit]) + count[hit], count[hit])
            positions = first + np.arange(len(reps))
            rows.append(reps.astype(np.int64))
            found.append(self.kept[band][positions].astype(np.int64))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        pairs = np.unique(np.stack([np.concatenate(rows), np.concatenate(found)], axis=1), axis=0)
        return pairs[:, 0], pairs[:, 1]

    def add(self, keys: U64, numbers: I32) -> None:
        """Index kept items ``numbers`` under their band ``keys`` (rows of ``keys``)."""
        for band in range(self.bands):
            order = np.argsort(keys[:, band], kind="stable")
            new_keys, new_kept = keys[order, band], numbers[order]
            at = np.searchsorted(self.keys[band], new_keys, side="right")
            self.keys[band] = np.insert(self.keys[band], at, new_keys)
            self.kept[band] = np.insert(self.kept[band], at, new_kept)


class _Signatures:
    """The low 8 bits of each kept item's MinHash values, in a growing array (b-bit minwise hashing)."""

    def __init__(self, num_perm: int) -> None:
        self.data: U8 = np.zeros((1024, num_perm), dtype=np.uint8)
        self.size = 0

    def extend(self, rows: U8) -> None:
        while self.size + len(rows) > len(self.data):
            self.data = np.concatenate([self.data, np.zeros_like(self.data)])
        self.data[self.size : self.size + len(rows)] = rows
        self.size += len(rows)


def _similar(a: U8, b: U8, need: int) -> npt.NDArray[np.bool_]:
    """Row-wise: do 8-bit signatures ``a`` and ``b`` agree in at least ``need`` positions?"""
    agree: npt.NDArray[np.int64] = (a == b).sum(axis=-1)
    return agree >= need


def _batches(items: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    stream = iter(items)
    while batch := list(islice(stream, size)):
        yield batch


def near_duplicates(
    items: Iterable[tuple[str, str]],
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    seed: int = 1,
    batch_size: int = 4096,
) -> list[list[str]]:
    """Groups of ids of near-duplicate texts, from ``(id, text)`` pairs, in one streaming pass.

    Each group lists the first-seen (kept) id first, then the ids that match it (to be flagged) in
    input order; groups come in the order of their kept item, and items without a near duplicate
    are not returned. Two texts match when their MinHash-estimated Jaccard similarity of 3-token
    shingle sets is at least ``threshold``; exact duplicates (after normalisation) always match.

    >>> near_duplicates([("a", "Which drug lowers LDL the most?"), ("b", "Chest pain at rest."),
    ...                  ("c", "which drug lowers LDL the most")])
    [['a', 'c']]
    """
    bands, rows = band_params(threshold, num_perm)
    # The number of agreeing 8-bit values that means "estimated Jaccard >= threshold" after the
    # b-bit correction J = (m - 1/256) / (1 - 1/256), m the fraction that agree.
    chance = 1.0 / 256.0
    need = int(np.ceil(num_perm * (threshold * (1.0 - chance) + chance) - 1e-9))
    hasher = TokenHasher()
    minhash = MinHasher(num_perm, seed)
    index = _Bands(bands, rows, seed)
    store = _Signatures(num_perm)
    kept_ids: list[str] = []
    members: dict[int, list[str]] = {}

    for batch in _batches(items, batch_size):
        toks = [tokens(text) for _, text in batch]
        flat, lengths = batch_token_hashes(toks, hasher)
        shingles, owner, _ = ngram_hashes(flat, lengths, SHINGLE, short=True)
        sig = minhash.signatures(shingles, owner, len(batch))
        keys = index.of(sig)
        low = (sig & np.uint32(0xFF)).astype(np.uint8)

        # 1. Against kept items of earlier batches (vectorised): the earliest verified match wins.
        match = np.full(len(batch), -1, dtype=np.int64)
        cand_row, cand_kept = index.candidates(keys)
        if len(cand_row):
            ok = _similar(low[cand_row], store.data[cand_kept], need)
            for row, kept in zip(cand_row[ok].tolist(), cand_kept[ok].tolist(), strict=True):
                if match[row] < 0 or kept < match[row]:
                    match[row] = kept

        # 2. Within the batch, in input order, against this batch's kept items (small dicts).
        local: list[dict[int, list[int]]] = [{} for _ in range(bands)]
        new_rows: list[int] = []
        position: dict[int, int] = {}
        key_rows = keys.tolist()
        for row in range(len(batch)):
            if lengths[row] == 0 or match[row] >= 0:
                continue
            number = -1
            seen: set[int] = set()
            for band, key in enumerate(key_rows[row]):
                for other in local[band].get(key, ()):
                    if other in seen:
                        continue
                    seen.add(other)
                    if _similar(low[row], low[other], need) and (number < 0 or other < number):
                        number = other
            if number >= 0:
                match[row] = len(kept_ids) + position[number]
                continue
            for band, key in enumerate(key_rows[row]):
                local[band].setdefault(key, []).append(row)
            position[row] = len(new_rows)
            new_rows.append(row)

        # 3. Record: new kept items join the index, matches join their kept item's group.
        base = len(kept_ids)
        kept_ids.extend(batch[row][0] for row in new_rows)
        if new_rows:
            chosen = np.array(new_rows, dtype=np.int64)
            index.add(keys[chosen], np.arange(base, base + len(new_rows), dtype=np.int32))
            store.extend(low[chosen])
        for row in np.flatnonzero(match >= 0).tolist():
            members.setdefault(int(match[row]), []).append(batch[row][0])

    return [[kept_ids[number], *ids] for number, ids in sorted(members.items())]
