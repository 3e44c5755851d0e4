"""Text normalisation, tokens and hashed n-grams shared by dedup and contamination checks.

Curation step "Dedup and contamination" of SafeMed-R1: near-duplicate seeds are found by MinHash
over *shingles* (:mod:`safemed.curate.dedup`) and benchmark leakage by 13-gram overlap
(:mod:`safemed.curate.contamination`). Both see a text the same way:

1. **Normalise**: Unicode NFKC (full-width letters and digits become ASCII), case-folded,
   punctuation and symbols stripped, whitespace collapsed (:func:`normalise`).
2. **Tokens**: English (any non-CJK script) is split into *words* (runs of letters and digits:
   ``"45-year-old"`` is ``45 year old``); Chinese/Japanese text, which has no spaces, is split into
   *characters*, each CJK ideograph or kana one token (:func:`tokens`). Mixed text mixes both:
   ``"首选ACEI治疗"`` is ``首 选 acei 治 疗``. Counting a 13-gram in Chinese characters is the
   usual practice for Chinese contamination checks (a 13-character window is roughly a clause,
   as 13 English words are); the same tokens give the MinHash shingles.
3. **Hashed n-grams**: each distinct token gets a 64-bit BLAKE2b hash (cached), and each window
   of ``n`` consecutive tokens a 64-bit hash computed with numpy over a whole batch of texts at
   once (a position-weighted sum of the token hashes, then the splitmix64 finaliser). Hashes are
   stable across processes and machines (no Python ``hash()`` salt).

Shingles for MinHash are :data:`SHINGLE` = 3-token windows (word 3-grams; character 3-grams for
CJK), not the 5-grams used for long web documents: seed question stems are short (~60 words or
~40 characters), and one edited word changes ``k`` of the ~60 shingles, so with k = 5 one edit
already brings the Jaccard similarity to ~0.84 and two edits to ~0.72 (below the usual 0.8
threshold), while with k = 3 one edit gives ~0.90 and two ~0.82. Different questions still share
almost no 3-grams (stock phrases like "which of the following" are a few shingles of sixty).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

SHINGLE = 3
"""Tokens per MinHash shingle (word 3-grams; character 3-grams for CJK text)."""

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")

_MASK64 = (1 << 64) - 1
# Odd 64-bit multipliers for the position-weighted sum (pi's digits plus golden-ratio steps; any odd ones do).
_WEIGHTS = [(0x243F6A8885A308D3 + 0x9E3779B97F4A7C15 * i) & _MASK64 | 1 for i in range(64)]


def tokens(text: str) -> list[str]:
    """The tokens of ``text``: normalised words, and single characters for CJK script.

    >>> tokens("A 45-year-old man's BP: 150/90 mmHg.")
    ['a', '45', 'year', 'old', 'man', 's', 'bp', '150', '90', 'mmhg']
    >>> tokens("首选ＡＣＥＩ治疗。")
    ['首', '选', 'acei', '治', '疗']
    """
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def detokenise(toks: Sequence[str]) -> str:
    """Readable text from tokens: words joined by spaces, adjacent CJK characters joined directly.

    >>> detokenise(["首", "选", "acei", "治", "疗"]), detokenise(["chest", "pain"])
    ('首选 acei 治疗', 'chest pain')
    """
    out: list[str] = []
    previous_cjk = False
    for tok in toks:
        cjk = _CJK_CHAR.fullmatch(tok) is not None
        if out and not (cjk and previous_cjk):
            out.append(" ")
        out.append(tok)
        previous_cjk = cjk
    return "".join(out)


def normalise(text: str) -> str:
    """NFKC, case-folded, punctuation stripped, whitespace collapsed (CJK characters kept together).

    >>> normalise("  Which   drug is FIRST-line?\\n")
    'which drug is first line'
    """
    return detokenise(tokens(text))


class TokenHasher:
    """64-bit BLAKE2b hashes of tokens, cached; the cache is cleared when it reaches ``max_cache``.

    Hashing every token with BLAKE2b costs ~0.4 µs; the cache makes a repeated token a dict lookup.
    """

    def __init__(self, max_cache: int = 1_000_000) -> None:
        self._cache: dict[str, int] = {}
        self._max = max_cache

    def __call__(self, toks: Sequence[str]) -> list[int]:
        """The hash of each token, in order."""
        cache = self._cache
        out: list[int] = []
        for tok in toks:
            value = cache.get(tok)
            if value is None:
                if len(cache) >= self._max:
                    cache.clear()
                value = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                cache[tok] = value
            out.append(value)
        return out


def _mix(x: U64) -> U64:
    """The splitmix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _weighted(hashes: Sequence[int]) -> int:
    """The n-gram hash (before mixing) of one short token sequence, in Python integers."""
    return sum(h * w for h, w in zip(hashes, _WEIGHTS, strict=False)) & _MASK64


def ngram_hashes(flat: U64, lengths: I64, n: int, *, short: bool = False) -> tuple[U64, I64, I64]:
    """Hashes of every window of ``n`` tokens of a batch of texts, with owner text and start position.

    ``flat`` holds the token hashes of all texts end to end and ``lengths`` the token count of
    each. Returns ``(hashes, owner, start)``, ordered by owner then start. A text with fewer than
    ``n`` tokens has no window; with ``short=True`` it gets one hash of all its tokens (what
    MinHash wants: a 2-word text still has a shingle), and an empty text never has any.
    """
    if not 1 <= n <= len(_WEIGHTS):
        raise ValueError(f"n must be between 1 and {len(_WEIGHTS)}, got {n}")
    total = int(lengths.sum())
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    windows = max(total - n + 1, 0)
    acc = np.zeros(windows, dtype=np.uint64)
    for offset in range(n):
        acc += flat[offset : offset + windows] * np.uint64(_WEIGHTS[offset])
    owner_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)[:windows]
    pos = np.arange(windows, dtype=np.int64) - starts[owner_of]
    keep = pos <= lengths[owner_of] - n
    hashes, owner, start = acc[keep], owner_of[keep], pos[keep]
    if short:
        few = np.flatnonzero((lengths > 0) & (lengths < n))
        if len(few):
            extra = np.array(
                [_weighted(flat[starts[i] : starts[i] + lengths[i]].tolist()) for i in few], dtype=np.uint64
            )
            hashes = np.concatenate([hashes, extra])
            owner = np.concatenate([owner, few])
            start = np.concatenate([start, np.zeros(len(few), dtype=np.int64)])
            order = np.argsort(owner, kind="stable")
            hashes, owner, start = hashes[order], owner[order], start[order]
    return _mix(hashes.copy()), owner, start


def batch_token_hashes(texts: Sequence[Sequence[str]], hasher: TokenHasher) -> tuple[U64, I64]:
    """``(flat, lengths)`` for :func:`ngram_hashes`: the token hashes of a batch of token lists."""
    flat: list[int] = []
    for toks in texts:
        flat.extend(hasher(toks))
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    return np.array(flat, dtype=np.uint64), lengths
