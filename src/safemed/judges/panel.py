"""A panel of judges: every judge scores every response, concurrently, through the request engine.

SafeMed-R1 evaluation, §4 (Med-Safety-Bench with three judges — GPT-4o, DeepSeek-V3,
Qwen3-235B — whose means are averaged): ``--judge SPEC`` given several times builds one
``(Judge, RequestEngine)`` pair per endpoint. Judge calls go through the same cached, retrying,
resumable :class:`~safemed.backends.RequestEngine` as the model under test.

A reply that cannot be parsed is re-asked up to ``max_reparse`` times, each re-ask a different
request (:meth:`Judge.reask` appends a numbered note and moves the seed on), so the cache cannot
return the same unreadable text; a reply still unreadable is kept, recorded as ``unparsed`` and
counted — never turned into a number (inspect_ai's "unscored", not 0). A request the engine
could not complete is ``failed``. The judges of a panel run concurrently (``asyncio.gather``),
so a three-judge panel costs about the wall time of its slowest judge, not three times one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from safemed.backends import RequestEngine
from safemed.judges.base import Judge, Scale
from safemed.records import ChatMessage

Status = Literal["scored", "unparsed", "failed"]


@dataclass(frozen=True)
class JudgeScore:
    """One judge's score of one response, with how it was obtained.

    ``raw`` holds every reply in order (the first ask, then each re-ask); ``asks`` is how many
    judge requests were made (0 when the pre-filter decided) and ``attempts`` the HTTP tries
    behind them (0 for cache hits).
    """

    judge: str
    config_hash: str
    scale: Scale
    score: float | None
    status: Status
    label: str | None = None
    reason: str | None = None
    problem: str | None = None
    raw: tuple[str, ...] = ()
    asks: int = 0
    attempts: int = 0
    cached: bool = False
    decided_by: Literal["judge", "prefilter"] = "judge"
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scale"] = self.scale.as_dict()
        data["raw"] = list(self.raw)
        data["detail"] = dict(self.detail)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeScore:
        s = data["scale"]
        scale = Scale(s["low"], s["high"], s["direction"], tuple((v, n) for v, n in s.get("labels", ())))
        return cls(**{**data, "scale": scale, "raw": tuple(data.get("raw", ()))})


@dataclass(frozen=True)
class PanelScore:
    """Every judge's score of one response."""

    item_id: str | None
    scores: tuple[JudgeScore, ...]

    def values(self) -> list[float]:
        """The scores that exist (unparsed and failed ones are left out, not imputed)."""
        return [s.score for s in self.scores if s.score is not None]

    def mean(self) -> float | None:
        """Mean over the judges that scored, None when none did."""
        vals = self.values()
        return sum(vals) / len(vals) if vals else None

    def as_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "scores": [s.as_dict() for s in self.scores]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PanelScore:
        return cls(data.get("item_id"), tuple(JudgeScore.from_dict(s) for s in data["scores"]))


@dataclass(frozen=True)
class PanelItem:
    """One response to judge: the whole conversation (ending with the model's reply)."""

    conversation: tuple[ChatMessage, ...]
    request: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    item_id: str | None = None


async def judge_once(judge: Judge, engine: RequestEngine, conversation: Sequence[ChatMessage], *,
                     request: str | None = None, extra: Mapping[str, Any] | None = None,
                     max_reparse: int = 2, label: str | None = None) -> JudgeScore:
    """Score one conversation with one judge: pre-filter, ask, re-ask while unreadable."""
    if max_reparse < 0:
        raise ValueError(f"max_reparse must be >= 0, got {max_reparse}")
    name = label or judge.name
    chash = judge.config_hash(engine.backend.identity())
    if judge.prefilter is not None:
        decided = judge.prefilter(conversation)
        if decided is not None:
            return JudgeScore(name, chash, judge.scale, decided.score, "scored", label=decided.label,
                              reason=decided.reason, decided_by="prefilter")
    first = judge.build_messages(conversation, request=request, extra=extra)
    raws: list[str] = []
    attempts, cached = 0, True
    problem: str | None = None
    last_detail: Mapping[str, Any] = {}
    for k in range(max_reparse + 1):
        messages, params = (first, judge.params) if k == 0 else judge.reask(first, k)
        result = await engine.complete(messages, params)
        attempts += result.attempts
        cached = cached and result.cached
        if result.completion is None:
            return JudgeScore(name, chash, judge.scale, None, "failed", problem=result.error, raw=tuple(raws),
                              asks=k + 1, attempts=attempts, cached=False)
        raws.append(result.completion.text)
        verdict = judge.verdict(result.completion.text, extra)
        if verdict.score is not None:
            return JudgeScore(name, chash, judge.scale, verdict.score, "scored", label=verdict.label,
                              reason=verdict.reason, raw=tuple(raws), asks=k + 1, attempts=attempts,
                              cached=cached, detail=verdict.detail)
        problem = verdict.problem
        last_detail = verdict.detail
    return JudgeScore(name, chash, judge.scale, None, "unparsed", problem=problem, raw=tuple(raws),
                      asks=max_reparse + 1, attempts=attempts, cached=cached, detail=last_detail)


def panel_labels(judges: Sequence[tuple[Judge, RequestEngine]]) -> list[str]:
    """``judge[spec]`` per member, made unique with ``#2``, ``#3`` … where repeated."""
    labels: list[str] = []
    for judge, engine in judges:
        base = f"{judge.name}[{engine.backend.spec}]"
        label, n = base, 1
        while label in labels:
            n += 1
            label = f"{base}#{n}"
        labels.append(label)
    return labels


class Panel:
    """Judges that each score every response; ``labels`` name them in results."""

    def __init__(self, judges: Sequence[tuple[Judge, RequestEngine]], *, max_reparse: int = 2,
                 labels: Sequence[str] | None = None) -> None:
        if not judges:
            raise ValueError("a panel needs at least one judge")
        if max_reparse < 0:
            raise ValueError(f"max_reparse must be >= 0, got {max_reparse}")
        self.judges = list(judges)
        self.max_reparse = max_reparse
        self.labels = list(labels) if labels is not None else panel_labels(self.judges)
        if len(set(self.labels)) != len(self.labels) or len(self.labels) != len(self.judges):
            raise ValueError("panel labels must be unique, one per judge")

    async def score(self, conversation: Sequence[ChatMessage], *, request: str | None = None,
                    extra: Mapping[str, Any] | None = None, item_id: str | None = None) -> PanelScore:
        """Every judge's score of one conversation, the judges running concurrently."""
        scores = await asyncio.gather(*(
            judge_once(judge, engine, conversation, request=request, extra=extra, max_reparse=self.max_reparse,
                       label=label)
            for (judge, engine), label in zip(self.judges, self.labels, strict=True)))
        return PanelScore(item_id, tuple(scores))

    async def score_many(self, items: Sequence[PanelItem]) -> list[PanelScore]:
        """All items at once; each engine's own concurrency limit bounds its endpoint's load."""
        return list(await asyncio.gather(*(
            self.score(it.conversation, request=it.request, extra=it.extra, item_id=it.item_id) for it in items)))

    def describe(self) -> list[dict[str, Any]]:
        """Per judge: label, name, template version, model identity, config hash (for manifests)."""
        return [{"label": label, "judge": judge.name, "version": judge.version,
                 "model": engine.backend.identity(), "params": judge.params.as_dict(),
                 "config_hash": judge.config_hash(engine.backend.identity())}
                for (judge, engine), label in zip(self.judges, self.labels, strict=True)]

    async def aclose(self) -> None:
        for _, engine in self.judges:
            await engine.aclose()
