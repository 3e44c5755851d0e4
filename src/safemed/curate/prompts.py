"""Generation prompts of the curation pipeline and their parsers (paper: CoT generation and data
expansion).

* :func:`cot_messages`: ask for step-by-step reasoning that ends in ``Answer: X`` (English) or
  ``答案：X`` (Chinese); :func:`parse_cot` splits a reply into the reasoning and the letters,
  read with the evaluation's :func:`~safemed.datasets.extract.extract_answer`.
* :func:`variant_messages`: ask for K paraphrased or new questions on a seed, as a JSON array;
  :func:`parse_variants` keeps the well-formed ones (the rest are counted, never guessed at).
"""

from __future__ import annotations

import json
import re
from typing import Any

from safemed.datasets.extract import extract_answer
from safemed.records import ChatMessage
from safemed.records.curation import Item

COT_PROMPT_VERSION = "curate-cot-v1"
VARIANT_PROMPT_VERSION = "curate-variants-v1"

COT_EN = ("You are an experienced physician writing a worked solution to a {what} question.\n\n"
          "Question: {question}\n\n{options}\n\n"
          "Reason step by step: state the key findings, the relevant medical knowledge, and why each "
          "option is right or wrong. Then give your final answer on the last line as \"Answer: {fmt}\"{multi}.")
COT_ZH = ("你是一名经验丰富的医生，请为下面的{what}写出详细解答。\n\n题目：{question}\n\n{options}\n\n"
          "请逐步推理：指出关键信息、相关医学知识，并说明每个选项对或错的原因。"
          "最后一行请按“答案：{fmt}”的格式给出最终答案{multi}。")
WHAT = {("en", "item"): "multiple-choice medical", ("en", "ethics"): "multiple-choice medical ethics",
        ("en", "safety"): "multiple-choice patient safety", ("zh", "item"): "医学选择题",
        ("zh", "ethics"): "医学伦理选择题", ("zh", "safety"): "医疗安全选择题"}

VARIANTS_EN = ("Write {k} new multiple-choice questions for medical training, based on the seed question "
               "below: paraphrase it or test the same knowledge with a new clinical scenario. Each question "
               "needs one correct answer among its options.\n\nSeed question: {question}\n\n{options}\n\n"
               "Correct answer: {gold}\n\nReply with only a JSON array of {k} objects, each "
               '{{"question": "...", "options": {{"A": "...", "B": "...", ...}}, "answer": "A"}}.')
VARIANTS_ZH = ("请根据下面的种子题目，编写 {k} 道新的医学选择题：可以改写原题，或用新的临床情景考查相同的知识点。"
               "每道题在选项中只有一个正确答案。\n\n种子题目：{question}\n\n{options}\n\n正确答案：{gold}\n\n"
               '只回复一个包含 {k} 个对象的 JSON 数组，每个对象形如 {{"question": "...", "options": '
               '{{"A": "...", "B": "..."}}, "answer": "A"}}。')

FINAL_LINE = re.compile(r"\n?[^\n]*(?:answer|答案|故选|应选)[^\n]*\s*$", re.IGNORECASE)
THINK_TAGS = re.compile(r"</?think>", re.IGNORECASE)


def options_block(options: dict[str, str]) -> str:
    """``A. text`` lines in letter order."""
    return "\n".join(f"{letter}. {text}" for letter, text in sorted(options.items()))


def question_text(item: Item) -> str:
    """The question as a training prompt shows it: stem, then the lettered options."""
    return f"{item.question.strip()}\n\n{options_block(item.options)}"


def cot_messages(item: Item) -> list[ChatMessage]:
    """The chain-of-thought request for one item, in the item's language."""
    multi = len(item.gold) > 1
    if item.language == "zh":
        content = COT_ZH.format(what=WHAT[("zh", item.kind)], question=item.question.strip(),
                                options=options_block(item.options), fmt="XY" if multi else "X",
                                multi="（本题可能有多个正确选项，请列出全部）" if multi else "")
    else:
        content = COT_EN.format(what=WHAT[("en", item.kind)], question=item.question.strip(),
                                options=options_block(item.options), fmt="XY" if multi else "X",
                                multi=", listing every correct letter" if multi else "")
    return [ChatMessage(role="user", content=content)]


def parse_cot(reply: str, item: Item) -> tuple[str, str | None]:
    """(reasoning, answer letters or None) from a chain-of-thought reply.

    The reasoning is the reply without ``<think>`` tags and without its final answer line; the
    answer is what :func:`extract_answer` reads from the whole reply (None: no committed answer).
    """
    answer = extract_answer(reply, "".join(sorted(item.options)), multi=len(item.gold) > 1)
    text = THINK_TAGS.sub("", reply).strip()
    reasoning = FINAL_LINE.sub("", text).strip() if answer is not None else text
    return reasoning or text, answer


def final_answer_line(item: Item, letters: str) -> str:
    """``Answer: X`` / ``答案：X``: how a training row ends."""
    return f"答案：{letters}" if item.language == "zh" else f"Answer: {letters}"


def variant_messages(item: Item, k: int) -> list[ChatMessage]:
    """The data-expansion request: ``k`` paraphrased or new questions on a seed item."""
    template = VARIANTS_ZH if item.language == "zh" else VARIANTS_EN
    return [ChatMessage(role="user", content=template.format(k=k, question=item.question.strip(),
                                                             options=options_block(item.options), gold=item.gold))]


def parse_variants(reply: str, k: int) -> tuple[list[dict[str, Any]], int]:
    """(well-formed questions, number of malformed ones) from a variants reply: the first JSON
    array in the reply; each entry needs a question, ≥2 lettered options and answer letters among
    them. At most ``k`` are kept."""
    start, end = reply.find("["), reply.rfind("]")
    if start < 0 or end <= start:
        return [], k
    try:
        data = json.loads(reply[start:end + 1])
    except json.JSONDecodeError:
        return [], k
    if not isinstance(data, list):
        return [], k
    good: list[dict[str, Any]] = []
    for entry in data[:k]:
        if _well_formed(entry):
            good.append({"question": entry["question"].strip(),
                         "options": {key: str(value).strip() for key, value in sorted(entry["options"].items())},
                         "answer": "".join(sorted(set(entry["answer"].strip().upper())))})
    return good, k - len(good)


def _well_formed(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    question, options, answer = entry.get("question"), entry.get("options"), entry.get("answer")
    if not isinstance(question, str) or not question.strip() or not isinstance(options, dict) or len(options) < 2:
        return False
    if not all(isinstance(key, str) and len(key) == 1 and "A" <= key <= "Z" and isinstance(value, str)
               and value.strip() for key, value in options.items()):
        return False
    return isinstance(answer, str) and bool(answer.strip()) and all(ch in options for ch in answer.strip().upper())
