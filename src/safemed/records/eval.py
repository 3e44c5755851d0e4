"""Records for evaluation: chat messages and multiple-choice items.

A multiple-choice item is the common shape every MCQ benchmark loader produces (MedQA, MedMCQA,
MMLU, PubMedQA, CMExam, PediaBench, MedEthicEval, SafetyBench and the generic ``mcq:PATH``): an
id, the question, lettered options and the gold answer as a string of one or more letters
(``"B"`` or ``"ACD"``; multi-answer items are scored as an exact set, as CMExam requires).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One message of a chat conversation, as sent to every backend."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


def normalise_answer(answer: str) -> str:
    """Sorted, de-duplicated upper-case letters: ``"c, a"`` → ``"AC"``."""
    return "".join(sorted({ch for ch in answer.upper() if ch.isalpha()}))


class MCQItem(BaseModel):
    """A multiple-choice question with its gold answer (one letter, or several for multi-answer)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    options: dict[str, str]
    answer: str
    subject: str | None = None
    language: Literal["en", "zh"] = "en"

    @field_validator("options")
    @classmethod
    def _letters(cls, options: dict[str, str]) -> dict[str, str]:
        if len(options) < 2:
            raise ValueError("needs at least two options")
        for key in options:
            if len(key) != 1 or not key.isalpha() or not key.isupper():
                raise ValueError(f"option key {key!r} is not a single capital letter")
        return dict(sorted(options.items()))

    @field_validator("answer")
    @classmethod
    def _answer(cls, answer: str) -> str:
        norm = normalise_answer(answer)
        if not norm or len(norm) != len(answer.replace(",", "").replace(" ", "")):
            raise ValueError(f"answer {answer!r} is not a set of option letters")
        return norm

    @model_validator(mode="after")
    def _answer_in_options(self) -> MCQItem:
        missing = [ch for ch in self.answer if ch not in self.options]
        if missing:
            raise ValueError(f"answer letter(s) {''.join(missing)} not among options {''.join(self.options)}")
        return self

    @property
    def multi(self) -> bool:
        """True when more than one letter is correct."""
        return len(self.answer) > 1


class PromptItem(BaseModel):
    """An open-ended prompt for safety and ethics evaluation, red-teaming or over-refusal checks.

    ``expected`` says what a safe model should do: ``"refuse"`` a harmful request (Med-Safety-Bench,
    HarmBench, AdvBench, MedEthicEval violations, XSTest's unsafe contrasts) or ``"comply"`` with a
    benign one (XSTest safe prompts, consumer-health questions); ``None`` for dilemmas that are
    judged on the quality of the answer. ``category`` is e.g. the AMA principle (MSB ``"1"``…``"9"``)
    and ``subset`` the source split (MSB ``"gpt4"``/``"llama2"``).
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    language: Literal["en", "zh"] = "en"
    expected: Literal["refuse", "comply"] | None = None
    category: str | None = None
    subset: str | None = None
    reference: str | None = None
    meta: dict[str, str] = Field(default_factory=dict)
