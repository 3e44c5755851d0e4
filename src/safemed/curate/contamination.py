"""Benchmark contamination: which seed items share a 13-gram with an evaluation benchmark item.

Curation step "Dedup and contamination" of SafeMed-R1: training data must not leak the test
questions the evidence package reports on. Every seed is checked for n-gram overlap (n = 13, the
GPT-3 / Llama practice) against every evaluation set found under the data folder: all MCQ
benchmarks (:func:`safemed.datasets.list_benchmarks`: the question and each option are indexed
as separate texts, so no n-gram spans two of them) and all prompt sets
(:func:`safemed.datasets.list_prompt_sets`: the prompt). Tokens are those of
:mod:`safemed.curate.ngrams`: words for English, single characters for Chinese (so a Chinese
13-gram is 13 characters). Contaminated items are *flagged* in the report, never dropped here;
what to do with them is the curator's call, recorded in the ledger. Run it as::

    report = contamination_report(((s.id, s.question) for s in seeds), data_dir)
    json.dumps(report.as_dict())

A set whose files are not in the data folder is listed in ``missing`` (and the check goes on);
the shipped toy samples (``sample``, ``sample-zh``, ``sample-safety``) are not evaluation sets and
are only checked when named in ``benchmarks``. Items with fewer than ``n`` tokens cannot be
checked by n-gram overlap and are counted in ``n_too_short``.

The index is a sorted numpy array of 64-bit n-gram hashes with a parallel array naming the
benchmark item each came from (12 bytes per distinct (n-gram, item) pair; an n-gram shared by
several items, such as a stock phrase, is kept once per item so the report can name them all).
Over the whole public data folder (18 sets, ~101,000 items and prompts) it holds ~1.35 million
entries, ~16 MB of arrays, built in ~3.5 s (``benchmarks/dedup_bench.py --data-dir``); a lookup is
a ``searchsorted`` over a batch of items.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from safemed.curate.ngrams import TokenHasher, batch_token_hashes, detokenise, ngram_hashes, tokens
from safemed.datasets import BENCHMARKS, PROMPT_SETS, get_benchmark, get_prompt_set
from safemed.errors import ConfigError, DataError, UnknownNameError

U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]

SAMPLES = ("sample", "sample-zh", "sample-safety")
"""Toy sets shipped with safemed: checked only when asked for by name."""

_BATCH = 4096


@dataclass(frozen=True)
class Overlap:
    """A benchmark item that shares n-grams with a checked item: the first shared one, readable."""

    benchmark: str
    benchmark_item_id: str
    ngram: str
    shared: int = 1
    """How many of the checked item's n-grams the benchmark item also has (a copy shares most)."""


@dataclass
class ContaminationReport:
    """What was checked against what, and the items that overlap an evaluation set."""

    n: int
    checked: list[str]
    missing: list[str]
    n_items: int = 0
    n_too_short: int = 0
    flagged: dict[str, list[Overlap]] = field(default_factory=dict)
    index_entries: int = 0
    bad_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (overlaps as dicts), for the curation artifact."""
        out = asdict(self)
        out["n_flagged"] = len(self.flagged)
        return out


@dataclass
class NgramIndex:
    """Sorted 64-bit n-gram hashes of evaluation items, and which item each came from."""

    n: int
    hashes: U64
    refs: I32
    sources: list[tuple[str, str]]
    checked: list[str]
    missing: list[str]
    bad_rows: int = 0

    @property
    def size(self) -> int:
        """The number of distinct (n-gram, benchmark item) entries."""
        return len(self.hashes)

    @property
    def nbytes(self) -> int:
        """Bytes held by the hash and reference arrays."""
        return int(self.hashes.nbytes + self.refs.nbytes)


def default_sets() -> list[str]:
    """Every registered MCQ benchmark and prompt set, except the shipped toy samples."""
    return [name for name in [*BENCHMARKS, *PROMPT_SETS] if name not in SAMPLES]


def _segments(name: str, data_dir: Path, on_bad_row: Any) -> Iterator[tuple[str, list[str]]]:
    """``(item_id, texts)`` of one set; raises ConfigError (from the loader) when it is missing."""
    if name in PROMPT_SETS or (name not in BENCHMARKS and name.startswith("prompts:")):
        for prompt in get_prompt_set(name).load(data_dir, on_bad_row=on_bad_row):
            yield prompt.id, [prompt.prompt]
        return
    try:
        benchmark = get_benchmark(name)
    except UnknownNameError:
        try:
            prompt_set = get_prompt_set(name)
        except UnknownNameError:
            raise UnknownNameError("benchmark or prompt set", name, default_sets() + list(SAMPLES)) from None
        for prompt in prompt_set.load(data_dir, on_bad_row=on_bad_row):
            yield prompt.id, [prompt.prompt]
        return
    for item in benchmark.load(data_dir, on_bad_row=on_bad_row):
        yield item.id, [item.question, *item.options.values()]


def build_index(data_dir: Path, *, n: int = 13, benchmarks: Sequence[str] | None = None) -> NgramIndex:
    """Index the n-grams of every evaluation set under ``data_dir`` (or of ``benchmarks`` only)."""
    names = list(benchmarks) if benchmarks is not None else default_sets()
    hasher = TokenHasher()
    sources: list[tuple[str, str]] = []
    parts: list[U64] = []
    part_refs: list[I32] = []
    checked: list[str] = []
    missing: list[str] = []
    bad: list[DataError] = []
    for name in names:
        stream = _segments(name, Path(data_dir), bad.append)
        try:
            first = next(stream, None)
        except ConfigError:
            missing.append(name)
            continue
        checked.append(name)
        rows = stream if first is None else _chain(first, stream)
        while batch := list(islice(rows, _BATCH)):
            texts: list[list[str]] = []
            seg_ref: list[int] = []
            for item_id, segments in batch:
                for text in segments:
                    texts.append(tokens(text))
                    seg_ref.append(len(sources))
                sources.append((name, item_id))
            flat, lengths = batch_token_hashes(texts, hasher)
            hashes, owner, _ = ngram_hashes(flat, lengths, n)
            parts.append(hashes)
            part_refs.append(np.asarray(seg_ref, dtype=np.int32)[owner])
    hashes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
    refs = np.concatenate(part_refs) if part_refs else np.zeros(0, dtype=np.int32)
    order = np.lexsort((refs, hashes))
    hashes, refs = hashes[order], refs[order]
    if len(hashes):
        keep = np.r_[True, (hashes[1:] != hashes[:-1]) | (refs[1:] != refs[:-1])]
        hashes, refs = hashes[keep], refs[keep]
    return NgramIndex(n, hashes, refs, sources, checked, missing, len(bad))


def _chain(first: tuple[str, list[str]], rest: Iterator[tuple[str, list[str]]]) -> Iterator[tuple[str, list[str]]]:
    yield first
    yield from rest


def check_items(
    index: NgramIndex, items: Iterable[tuple[str, str]], *, max_overlaps: int = 10, min_shared: int = 1
) -> ContaminationReport:
    """Check ``(id, text)`` items against a built index; see :func:`contamination_report`."""
    n = index.n
    report = ContaminationReport(
        n, list(index.checked), list(index.missing), index_entries=index.size, bad_rows=index.bad_rows
    )
    hasher = TokenHasher()
    stream = iter(items)
    while batch := list(islice(stream, _BATCH)):
        toks = [tokens(text) for _, text in batch]
        flat, lengths = batch_token_hashes(toks, hasher)
        report.n_items += len(batch)
        report.n_too_short += int((lengths < n).sum())
        if not index.size:
            continue
        hashes, owner, start = ngram_hashes(flat, lengths, n)
        left = np.searchsorted(index.hashes, hashes, side="left")
        right = np.searchsorted(index.hashes, hashes, side="right")
        hits = np.flatnonzero(right > left)
        found: dict[int, dict[int, list[int]]] = {}  # item row -> benchmark ref -> [count, first start]
        for k in hits.tolist():
            per_item = found.setdefault(int(owner[k]), {})
            for ref in index.refs[left[k] : right[k]].tolist():
                entry = per_item.get(ref)
                if entry is None:
                    per_item[ref] = [1, int(start[k])]
                else:
                    entry[0] += 1
        for row, per_ref in found.items():
            strong = [kv for kv in per_ref.items() if kv[1][0] >= min_shared]
            if not strong:
                continue
            ranked = sorted(strong, key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))[:max_overlaps]
            overlaps = [
                Overlap(*index.sources[ref], detokenise(toks[row][first : first + n]), count)
                for ref, (count, first) in ranked
            ]
            report.flagged.setdefault(batch[row][0], overlaps)  # a repeated id keeps its first result
    return report


def contamination_report(
    items: Iterable[tuple[str, str]],
    data_dir: Path,
    *,
    n: int = 13,
    benchmarks: Sequence[str] | None = None,
    max_overlaps: int = 10,
    min_shared: int = 1,
) -> ContaminationReport:
    """Flag the ``(id, text)`` items that share an ``n``-gram with an evaluation set under ``data_dir``.

    ``benchmarks`` restricts the check to those names (MCQ benchmarks or prompt sets, including
    the path forms such as ``medqa:PATH``); by default every registered set but the toy samples.
    Each flagged item lists up to ``max_overlaps`` overlapping benchmark items, the ones sharing
    the most n-grams first, each with the first shared n-gram in readable form.

    Any one shared n-gram flags an item (``min_shared=1``, the usual rule). Exam questions share
    stock phrases ("which of the following is the most likely cause of this patient's ..." is a
    13-gram), so ~13% of MedQA test questions overlap MMLU-medical by one or two such n-grams,
    while a copied question shares dozens: ``Overlap.shared`` tells them apart, and
    ``min_shared`` raises the bar when the stock-phrase hits are not wanted.
    """
    index = build_index(data_dir, n=n, benchmarks=benchmarks)
    return check_items(index, items, max_overlaps=max_overlaps, min_shared=min_shared)
