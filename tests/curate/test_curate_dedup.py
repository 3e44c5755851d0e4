"""Near-duplicate seeds (MinHash LSH) and benchmark contamination (13-gram overlap).

The contamination tests copy a real MedQA / CMExam question *at test time* through the loaders
(nothing from the data folder is stored in the repository) and are skipped when the data folder
is absent.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest

from safemed.curate import contamination, dedup, ngrams
from safemed.curate.contamination import NgramIndex, build_index, check_items, contamination_report, default_sets
from safemed.curate.dedup import MinHasher, near_duplicates
from safemed.curate.ngrams import (
    SHINGLE,
    TokenHasher,
    batch_token_hashes,
    detokenise,
    ngram_hashes,
    normalise,
    tokens,
)
from safemed.datasets import get_benchmark
from safemed.errors import UnknownNameError

STEM = (
    "A 34-year-old woman comes to the clinic because of three weeks of intermittent palpitations that "
    "start abruptly while she climbs stairs and stop when she bears down. She drinks four cups of coffee "
    "daily and recently started an inhaled bronchodilator for seasonal wheeze. Her pulse is 88 per minute "
    "and regular; an electrocardiogram between episodes shows a short PR interval with a slurred upstroke "
    "of the QRS complex. What is the best long-term treatment?"
)
OTHER = (
    "A 61-year-old retired carpenter reports painless jaundice, pale stools and a weight loss of six "
    "kilograms over two months. He smokes a pack a day and his father had diabetes. On examination the "
    "gallbladder is palpable and non-tender, and bilirubin is mostly conjugated. Ultrasound shows a "
    "dilated common bile duct. Which imaging study should come next to stage the likely cause?"
)
ZH = (
    "患者女，三十四岁，活动后突发心悸三周，屏气后可自行缓解，"
    "心电图示PR间期缩短，QRS波起始部可见预激波，长期治疗首选哪种方法"
)
ZH_OTHER = "患者男，六十一岁，无痛性黄疸伴陶土样大便两月，体重下降六公斤，查体可触及无压痛的胆囊，下一步首选哪项检查"


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


# -- tokens and n-grams --------------------------------------------------------------------


def test_doctests_pass() -> None:
    for module in (ngrams, dedup):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


def test_normalise_and_cjk_tokens() -> None:
    assert normalise("Ｗhich  DRUG,\tis first-line?") == "which drug is first line"
    assert tokens("首选ＡＣＥＩ。") == ["首", "选", "acei"]
    assert normalise("首选 ACEI 治疗！") == "首选 acei 治疗"


def test_ngram_hashes_are_stable_and_respect_text_boundaries() -> None:
    hasher = TokenHasher()
    texts = [tokens("a b c d"), tokens("b c d e"), tokens("x"), []]
    flat, lengths = batch_token_hashes(texts, hasher)
    hashes, owner, start = ngram_hashes(flat, lengths, 3)
    assert owner.tolist() == [0, 0, 1, 1] and start.tolist() == [0, 1, 0, 1]
    assert hashes[1] == hashes[2]  # "b c d" in both texts, never a window across them
    _, owner_short, _ = ngram_hashes(flat, lengths, 3, short=True)
    assert owner_short.tolist() == [0, 0, 1, 1, 2]  # the 1-token text gets one shingle, the empty none
    again, _, _ = ngram_hashes(*batch_token_hashes(texts, TokenHasher()), 3)
    assert again.tolist() == hashes.tolist()


def test_minhash_estimates_jaccard() -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    base = list(rng.choice(words, 60))
    texts = [" ".join(base)]
    for edits in (1, 3, 6, 12):
        variant = list(base)
        for at in rng.choice(60, edits, replace=False):
            variant[at] = f"new{at}"
        texts.append(" ".join(variant))
    flat, lengths = batch_token_hashes([tokens(t) for t in texts], TokenHasher())
    shingles, owner, _ = ngram_hashes(flat, lengths, SHINGLE, short=True)
    sig = MinHasher(256, seed=3).signatures(shingles, owner, len(texts))

    def sets(text: str) -> set[tuple[str, ...]]:
        toks = tokens(text)
        return {tuple(toks[i : i + SHINGLE]) for i in range(len(toks) - SHINGLE + 1)}

    for k in range(1, len(texts)):
        a, b = sets(texts[0]), sets(texts[k])
        true = len(a & b) / len(a | b)
        assert abs(float((sig[0] == sig[k]).mean()) - true) < 0.1


# -- near duplicates -----------------------------------------------------------------------


def test_small_edits_are_grouped_and_different_questions_are_not() -> None:
    items = [
        ("q1", STEM),
        ("q2", OTHER),
        ("q3", _edit(STEM, "four cups", "five cups")),
        ("q4", _edit(OTHER, "six", "seven")),
        ("q5", _edit(STEM, "recently started", "started")),
    ]
    assert near_duplicates(items) == [["q1", "q3", "q5"], ["q2", "q4"]]
    assert near_duplicates([("q1", STEM), ("q2", OTHER)]) == []


def test_exact_duplicates_are_grouped_first_seen_first() -> None:
    items = [("b", OTHER), ("z", STEM), ("a", STEM.upper()), ("c", STEM.replace(",", "")), ("d", "  " + STEM)]
    assert near_duplicates(items) == [["z", "a", "c", "d"]]


def test_short_and_empty_texts() -> None:
    items = [("a", "Dose?"), ("b", "dose"), ("c", "!!!"), ("d", "???"), ("e", "Dose of aspirin?")]
    assert near_duplicates(items) == [["a", "b"]]  # no-token texts are skipped, never grouped


def test_deterministic_and_independent_of_batch_size() -> None:
    rng = np.random.default_rng(5)
    words = [f"t{i}" for i in range(2000)]
    items = []
    for i in range(300):
        text = " ".join(rng.choice(words, 50))
        items.append((f"x{i}", text))
        if i % 10 == 0:
            items.append((f"x{i}dup", text.replace(text.split()[20], "changed", 1)))
    first = near_duplicates(items, seed=11)
    assert first == near_duplicates(items, seed=11)
    assert first == near_duplicates(items, seed=11, batch_size=7)
    assert len(first) == 30 and all(group[1] == group[0] + "dup" for group in first)
    assert near_duplicates(items, seed=12) == first  # clear-cut pairs do not depend on the seed


def test_cjk_near_duplicates() -> None:
    items = [
        ("zh1", ZH),
        ("zh2", ZH_OTHER),
        ("zh3", _edit(ZH, "三周", "两周")),
        ("zh4", ZH.replace("，", " ")),
    ]
    assert near_duplicates(items) == [["zh1", "zh3", "zh4"]]


def test_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        near_duplicates([("a", "x")], threshold=0.0)


# -- contamination -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index(data_dir: Path) -> NgramIndex:
    return build_index(data_dir)


def _long_question(name: str, data_dir: Path, min_tokens: int) -> tuple[str, str]:
    for item in get_benchmark(name).load(data_dir):
        if len(tokens(item.question)) >= min_tokens:
            return item.id, item.question
    raise AssertionError(f"no {name} question with {min_tokens} tokens")


def test_copied_medqa_question_is_flagged(index: NgramIndex, data_dir: Path) -> None:
    source_id, question = _long_question("medqa", data_dir, 80)
    words = question.split()
    words[len(words) // 2] = "meanwhile"  # a light edit: the 13-grams on either side still match
    copied = "Case: " + " ".join(words)
    report = check_items(index, [("seed-1", copied), ("seed-2", OTHER)])
    assert report.n_items == 2 and report.n_too_short == 0
    assert "seed-2" not in report.flagged
    top = report.flagged["seed-1"][0]
    assert (top.benchmark, top.benchmark_item_id) == ("medqa", source_id)
    assert top.shared > 40
    assert top.ngram == detokenise(tokens(question)[:13])  # the first shared 13-gram, readable
    strict = check_items(index, [("seed-1", copied)], min_shared=top.shared + 1)
    assert strict.flagged == {}


def test_copied_cmexam_question_is_flagged(index: NgramIndex, data_dir: Path) -> None:
    source_id, question = _long_question("cmexam", data_dir, 25)
    copied = "请回答：" + question + "（单选）"
    report = check_items(index, [("zh-seed", copied), ("zh-fresh", ZH)])
    assert list(report.flagged) == ["zh-seed"]
    top = report.flagged["zh-seed"][0]
    assert (top.benchmark, top.benchmark_item_id) == ("cmexam", source_id)
    assert len(top.ngram) == 13 or " " in top.ngram  # 13 characters (or words, if mixed)


def test_every_available_set_is_checked(index: NgramIndex) -> None:
    assert index.missing == [] or set(index.missing) <= set(default_sets())
    assert {"medqa", "cmexam", "med-safety-bench", "xstest"} <= set(index.checked)
    assert "sample" not in index.checked
    assert index.size > 100_000


def test_benchmarks_restricts_and_report_is_json(data_dir: Path) -> None:
    source_id, question = _long_question("medqa", data_dir, 80)
    report = contamination_report([("s", question), ("tiny", "Too short to check.")], data_dir, benchmarks=["cmexam"])
    assert report.checked == ["cmexam"] and report.missing == []
    assert report.flagged == {}
    assert report.n_too_short == 1
    report = contamination_report([("s", question)], data_dir, benchmarks=["medqa"])
    assert report.flagged["s"][0].benchmark_item_id == source_id
    as_json = json.loads(json.dumps(report.as_dict()))
    assert as_json["n_flagged"] == 1
    assert as_json["flagged"]["s"][0]["benchmark"] == "medqa"


def test_missing_data_is_listed_not_fatal(tmp_path: Path) -> None:
    report = contamination_report([("a", STEM)], tmp_path)
    assert report.checked == []
    assert report.missing == default_sets()
    assert report.n_items == 1 and report.flagged == {}


def test_unknown_benchmark_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="medqa"):
        contamination_report([("a", STEM)], tmp_path, benchmarks=["no-such-set"])


def test_module_docstrings_name_the_paper_step() -> None:
    for module in (ngrams, dedup, contamination):
        assert module.__doc__ and "Dedup and contamination" in module.__doc__
