#!/usr/bin/env python
"""MinHash LSH dedup throughput and recall, against a raw exact-duplicate baseline in the same run.

What it measures
----------------
The curation requirement: ``near_duplicates`` over N question stems (362,000; ~60 words each)
must finish in under 5 minutes on 2 cores, with bounded memory. The script

1. generates N synthetic, seeded question stems (a vignette template with random ages, findings
   and a closing question, drawn from a Zipf-weighted vocabulary so stems share stock phrases as
   real ones do) and injects ~5% near duplicates of earlier stems (1-3 word edits: substitute,
   delete or insert, and sometimes a case/punctuation change);
2. times the raw baseline: exact-duplicate detection by hashing the normalised text
   (``safemed.curate.ngrams.normalise`` + BLAKE2b into a dict), the cheapest possible pass;
3. times ``near_duplicates`` (threshold 0.8, 128 permutations) on the same stems, and reports the
   recall of the injected near duplicates (an injected copy counts as found when it is flagged in
   the group of its source, or of its source's kept item), the number of flagged stems that were
   not injected, and the true Jaccard of the injected pairs (so recall can be read against it);
4. optionally (``--datasketch-sample K``) times datasketch's own per-item ``MinHash.update`` loop
   on K stems and extrapolates to N, to show what the vectorised MinHash saves;
5. optionally (``--data-dir``) times building the 13-gram contamination index over every
   benchmark and prompt set in the data folder, and reports its size.

Peak RSS is this process's ``ru_maxrss``, read after each phase (the stems themselves are held in
memory for the comparison; the dedup streams them through in batches).

How to run::

    python benchmarks/dedup_bench.py --items 362000 --datasketch-sample 5000 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
import resource
import sys
import time
from pathlib import Path

from safemed.curate.contamination import build_index
from safemed.curate.dedup import near_duplicates
from safemed.curate.ngrams import SHINGLE, normalise, tokens

_OPENERS = [
    "A {age}-year-old {who} comes to the {place} because of {dur} of",
    "A {age}-year-old {who} is brought to the {place} with {dur} of",
    "A previously healthy {age}-year-old {who} presents to the {place} after {dur} of",
]
_CLOSERS = [
    "Which of the following is the most likely diagnosis?",
    "Which of the following is the most appropriate next step in management?",
    "Which of the following is the most likely underlying mechanism?",
    "Which of the following findings is most likely on further evaluation?",
]
_WHO = ["man", "woman", "boy", "girl", "patient"]
_PLACE = ["emergency department", "physician", "clinic", "hospital"]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 11))))
    return sorted(words)


def synthetic_stems(n: int, seed: int, dup_rate: float = 0.05) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``n`` (id, stem) pairs and the injected near duplicates as ``{copy_id: source_id}``."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng, 20_000)
    cum = list(itertools.accumulate(1.0 / (rank + 1) ** 1.05 for rank in range(len(vocab))))
    items: list[tuple[str, str]] = []
    injected: dict[str, str] = {}
    for i in range(n):
        item_id = f"s{i:07d}"
        if i > 10 and rng.random() < dup_rate:
            source_id, source = items[rng.randrange(len(items))]
            words = source.split()
            for _ in range(rng.randint(1, 3)):
                op, at = rng.random(), rng.randrange(len(words))
                if op < 0.5:
                    words[at] = rng.choices(vocab, cum_weights=cum)[0]
                elif op < 0.75 and len(words) > 20:
                    del words[at]
                else:
                    words.insert(at, rng.choices(vocab, cum_weights=cum)[0])
            text = " ".join(words)
            if rng.random() < 0.3:
                text = text.upper() if rng.random() < 0.5 else text.replace(",", "")
            items.append((item_id, text))
            injected[item_id] = source_id
            continue
        opener = rng.choice(_OPENERS).format(
            age=rng.randint(1, 90), who=rng.choice(_WHO), place=rng.choice(_PLACE), dur=f"{rng.randint(2, 14)} days"
        )
        body = rng.choices(vocab, cum_weights=cum, k=rng.randint(38, 52))
        for at in range(7, len(body), 9):
            body[at] += ","
        items.append((item_id, f"{opener} {' '.join(body)}. {rng.choice(_CLOSERS)}"))
    return items, injected


def _jaccard(a: str, b: str) -> float:
    def shingles(text: str) -> set[tuple[str, ...]]:
        toks = tokens(text)
        return {tuple(toks[i : i + SHINGLE]) for i in range(max(len(toks) - SHINGLE + 1, 1))}

    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _exact_baseline(items: list[tuple[str, str]]) -> list[list[str]]:
    groups: dict[bytes, list[str]] = {}
    for item_id, text in items:
        key = hashlib.blake2b(normalise(text).encode(), digest_size=8).digest()
        groups.setdefault(key, []).append(item_id)
    return [ids for ids in groups.values() if len(ids) > 1]


def _datasketch_seconds(items: list[tuple[str, str]], num_perm: int) -> float:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=num_perm)
    start = time.perf_counter()
    for item_id, text in items:
        toks = tokens(text)
        m = MinHash(num_perm=num_perm, seed=1)
        for i in range(max(len(toks) - SHINGLE + 1, 1)):
            m.update(" ".join(toks[i : i + SHINGLE]).encode())
        lsh.insert(item_id, m)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=362_000, help="number of synthetic stems (default 362000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic stems")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--datasketch-sample", type=int, default=0, help="also time datasketch on this many stems")
    parser.add_argument("--data-dir", type=Path, default=None, help="also time the contamination index build")
    parser.add_argument("--limit-s", type=float, default=300.0, help="fail when dedup takes longer (default 300)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    items, injected = synthetic_stems(args.items, args.seed)
    gen_s = time.perf_counter() - t0
    words = sum(len(text.split()) for _, text in items) / len(items)
    print(
        f"generated {len(items):,} stems ({words:.0f} words each on average, {len(injected):,} injected "
        f"near duplicates) in {gen_s:.1f}s; rss {_rss_mb():.0f} MB"
    )

    t0 = time.perf_counter()
    exact = _exact_baseline(items)
    base_s = time.perf_counter() - t0
    base_rss = _rss_mb()

    t0 = time.perf_counter()
    groups = near_duplicates(items, threshold=args.threshold, num_perm=args.num_perm)
    dedup_s = time.perf_counter() - t0
    dedup_rss = _rss_mb()

    kept_of = {i: group[0] for group in groups for i in group}
    flagged = {i for group in groups for i in group[1:]}

    def root(item_id: str) -> str:
        while item_id in injected:
            item_id = injected[item_id]
        return item_id

    found = sum(1 for copy, source in injected.items() if kept_of.get(copy, copy) == kept_of.get(source, root(source)))
    extra = len(flagged - injected.keys())
    text_of = dict(items)
    # Copies of an original (not of another copy): greedy clustering compares with kept items only.
    sample = [(c, s) for c, s in injected.items() if s not in injected][:5000]
    sim_of = {c: _jaccard(text_of[c], text_of[s]) for c, s in sample}
    sims = sorted(sim_of.values())

    rows = [
        ("exact-duplicate hashing (raw baseline)", base_s, base_rss, f"{sum(len(g) - 1 for g in exact):,} flagged"),
        ("near_duplicates (MinHash LSH)", dedup_s, dedup_rss, f"{len(flagged):,} flagged in {len(groups):,} groups"),
    ]
    if args.datasketch_sample:
        k = min(args.datasketch_sample, len(items))
        ds = _datasketch_seconds(items[:k], args.num_perm)
        rows.append(
            (
                f"datasketch update+insert ({k:,} stems, x{len(items) / k:.1f})",
                ds * len(items) / k,
                _rss_mb(),
                "extrapolated",
            )
        )
    print(f"\n{'pass':<48} {'seconds':>9} {'items/s':>10} {'peak RSS MB':>12}  result")
    for name, secs, rss, note in rows:
        print(f"{name:<48} {secs:>9.1f} {len(items) / secs:>10,.0f} {rss:>12.0f}  {note}")
    print(f"\nnear_duplicates / baseline time: {dedup_s / base_s:.1f}x")
    print(f"recall of injected near duplicates: {found / len(injected):.4f} ({found:,}/{len(injected):,})")
    bins = [(0.0, 0.75), (0.75, 0.8), (0.8, 0.85), (0.85, 0.9), (0.9, 1.01)]
    cells = []
    for lo, hi in bins:
        ids = [c for c, sim in sim_of.items() if lo <= sim < hi]
        hit = sum(1 for c in ids if c in flagged)
        cells.append(f"[{lo:.2f},{min(hi, 1.0):.2f}): {hit / max(len(ids), 1):.3f} of {len(ids)}")
    print(f"recall by true Jaccard (first {len(sample):,} copies of originals): " + "; ".join(cells))
    print(f"injected pairs' true Jaccard (3-token shingles): min {sims[0]:.2f}, median {sims[len(sims) // 2]:.2f}")
    print(f"flagged but not injected: {extra:,}")

    if args.data_dir is not None:
        t0 = time.perf_counter()
        index = build_index(args.data_dir)
        build_s = time.perf_counter() - t0
        print(
            f"\ncontamination index over {args.data_dir}: {len(index.checked)} sets checked, "
            f"{len(index.missing)} missing, {index.size:,} distinct (13-gram, item) entries, "
            f"{index.nbytes / 2**20:.1f} MB of arrays, built in {build_s:.1f}s; rss {_rss_mb():.0f} MB"
        )

    ok = dedup_s <= args.limit_s
    print(f"\n{'PASS' if ok else 'FAIL'}: near_duplicates took {dedup_s:.1f}s (limit {args.limit_s:.0f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
