"""A run folder as inspect_ai eval logs (JSON log format, schema version 2), one per benchmark.

SafeMed-R1's evaluation (§4) lives in safemed's run folders; teams that already read their
evaluations in `inspect view` get the same run there: one log per benchmark (or per attack of a
red-team run), the task named after it, the model the run's model spec. Each sample keeps its id,
its input (the prompt as sent; for a multi-turn attack the whole conversation), its target (the
gold letters, or what a safe model should do), the model's completion and token usage, and its
scores:

* multiple choice — scorer ``choice``: ``C``/``I`` with the extracted answer;
* safety sets — one score per judge of the panel (its label, e.g. ``msb[openai/gpt-4o@…]``) and
  the panel's per-response mean (scorer ``msb``, ``refusal``, …). A judge reply that could not be
  parsed (or a judge request that failed) is inspect's *unscored* score — value NaN, ``reason``
  ``grader_failed`` — with safemed's status (``unparsed``/``failed``) and every raw reply in its
  metadata: kept as such, never turned into a number;
* red-team attacks — each judge's MSB score, and ``attack_success`` (the share of judges that
  score the reply ≥ 4, as ``safemed redteam`` defines it).

Results carry the run's own numbers (results.json), never recomputed: accuracy, means and rates
with their 95 % CIs in each metric's metadata (and as ``ci95_low``/``ci95_high`` metrics so the
viewer shows them), the whole results block under ``results.metadata``. The eval spec's metadata
holds the safemed manifest id and the sha256 of the manifest and of every file read, so a log
leads back to its artifact. Files are named as inspect names its own logs
(``<created>_<task>_<id>.json``), which is what `inspect view` needs to list them in a folder.

Written with plain JSON (inspect_ai is not a dependency of safemed); the tests read every log
back with ``inspect_ai.log.read_eval_log`` and through the `inspect view` server's API.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from safemed.report.exports.run import RunFolder, Sample, Task, tasks_of

LOG_VERSION = 2
NAN = float("nan")
STOP_REASONS = {"stop": "stop", "length": "max_tokens", "max_tokens": "max_tokens",
                "content_filter": "content_filter", "tool_calls": "tool_calls"}
UNSCORED = "grader_failed"
"""inspect's reason for a score a grader model could not give (``Score.unscored``)."""


def clean_component(text: str) -> str:
    """A file-name component the way inspect writes them: no ``_`` (it separates the parts of
    a log's name), no path or time separators."""
    return re.sub(r"[\s_/\\:+*?\"<>|]+", "-", text).strip("-") or "task"


def _short_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:22]


def _usage(row: dict[str, Any]) -> dict[str, int] | None:
    usage = row.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}


def _sum_usage(usages: Iterable[dict[str, int] | None]) -> dict[str, int] | None:
    total: dict[str, int] | None = None
    for usage in usages:
        if usage is None:
            continue
        total = total or {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        for key in total:
            total[key] += usage[key]
    return total


def _message(sample_id: str, n: int, role: str, content: str, model: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": f"{sample_id}-m{n}", "content": content, "role": role}
    if role == "assistant":
        msg["source"] = "generate"
        if model is not None:
            msg["model"] = model
    return msg


def _output(sample_id: str, model: str, text: str, finish_reason: str | None,
            usage: dict[str, int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "choices": [{
        "message": _message(sample_id, 0, "assistant", text, model),
        "stop_reason": STOP_REASONS.get(finish_reason or "", "unknown")}], "completion": text}
    if usage is not None:
        out["usage"] = usage
    return out


def _error(message: str) -> dict[str, str]:
    return {"message": message, "traceback": "", "traceback_ansi": ""}


def judge_score(entry: dict[str, Any]) -> dict[str, Any]:
    """One judge's score of one response as an inspect Score; unparsed and failed replies are
    unscored (NaN, reason ``grader_failed``) with the raw replies kept in the metadata."""
    meta = {"status": entry.get("status"), "config_hash": entry.get("config_hash"), "scale": entry.get("scale"),
            "label": entry.get("label"), "raw": list(entry.get("raw") or []), "asks": entry.get("asks"),
            "decided_by": entry.get("decided_by"), "problem": entry.get("problem")}
    if entry.get("detail"):
        meta["detail"] = entry["detail"]
    score = entry.get("score")
    if score is None:
        return {"value": NAN, "explanation": entry.get("problem") or f"judge reply {entry.get('status')}",
                "reason": UNSCORED, "metadata": meta, "history": []}
    out: dict[str, Any] = {"value": float(score), "metadata": meta, "history": []}
    if entry.get("label") is not None:
        out["answer"] = str(entry["label"])
    if entry.get("reason"):
        out["explanation"] = str(entry["reason"])
    return out


def _panel_score(value: float | None, what: str, n_judges: int) -> dict[str, Any]:
    if value is None:
        return {"value": NAN, "explanation": f"no judge of the panel gave a {what}", "reason": UNSCORED,
                "metadata": {"n_judges": n_judges}, "history": []}
    return {"value": float(value), "metadata": {"n_judges": n_judges}, "history": []}


class SampleIds:
    """Unique inspect sample ids (a repeated id gets ``#2``, ``#3`` …; the original is kept)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, raw: str) -> str:
        self._seen[raw] = self._seen.get(raw, 0) + 1
        return raw if self._seen[raw] == 1 else f"{raw}#{self._seen[raw]}"


def _base_sample(sid: str, source_id: str, sample: Sample, input_: Any, target: str,
                 metadata: dict[str, Any]) -> dict[str, Any]:
    metadata = {**metadata, "source_id": source_id, "samples_jsonl_line": sample.line}
    return {"id": sid, "epoch": 1, "input": input_, "target": target, "messages": [], "metadata": metadata,
            "store": {}, "events": [], "model_usage": {}, "role_usage": {}, "attachments": {}}


def _answered(out: dict[str, Any], run: RunFolder, messages: list[dict[str, Any]], text: str,
              row: dict[str, Any]) -> None:
    usage = _usage(row)
    out["messages"] = messages
    out["output"] = _output(out["id"], run.model, text, row.get("finish_reason"), usage)
    if usage is not None:
        out["model_usage"] = {run.model: usage}


def _failed(out: dict[str, Any], run: RunFolder, message: str) -> None:
    out["output"] = {"model": run.model, "choices": [], "completion": ""}
    out["error"] = _error(message)


def _single_turn(out: dict[str, Any], run: RunFolder, prompt: str, row: dict[str, Any]) -> bool:
    """The user prompt and the model's reply as the sample's messages and output; False (the sample
    marked errored) when the request failed after every retry."""
    response = row.get("response")
    if response is None:
        _failed(out, run, str(row.get("error") or "the request failed after every retry"))
        return False
    _answered(out, run, [_message(out["id"], 1, "user", prompt),
                         _message(out["id"], 2, "assistant", str(response), run.model)], str(response), row)
    return True


def mcq_sample(run: RunFolder, sample: Sample, ids: SampleIds) -> dict[str, Any]:
    row = sample.row
    source_id = run.field_of(sample, "id", str)
    prompt = run.field_of(sample, "prompt", str)
    gold = run.field_of(sample, "gold", str)
    out = _base_sample(ids(source_id), source_id, sample, prompt, gold,
                       {k: row[k] for k in ("subject", "letter_map", "cache_hit") if row.get(k) is not None})
    if not _single_turn(out, run, prompt, row):
        return out
    correct = run.field_of(sample, "correct", bool)
    score: dict[str, Any] = {"value": "C" if correct else "I", "metadata": {"invalid": bool(row.get("invalid"))},
                             "history": []}
    if row.get("extracted") is not None:
        score["answer"] = str(row["extracted"])
    else:
        score["explanation"] = "no answer letter could be extracted (scored wrong)"
    out["scores"] = {"choice": score}
    return out


def safety_sample(run: RunFolder, sample: Sample, ids: SampleIds) -> dict[str, Any]:
    row = sample.row
    source_id = run.field_of(sample, "id", str)
    prompt = run.field_of(sample, "prompt", str)
    meta = {k: row.get(k) for k in ("category", "subset", "expected", "language", "judge_kind", "cache_hit")}
    out = _base_sample(ids(source_id), source_id, sample, prompt, str(row.get("expected") or ""), meta)
    if not _single_turn(out, run, prompt, row):
        return out
    judges = run.field_of(sample, "judges", list)
    scores = {str(j["judge"]): judge_score(j) for j in judges}
    kind = str(row.get("judge_kind") or "panel")
    mean = row.get("judge_mean")
    out["scores"] = {kind: _panel_score(float(mean) if mean is not None else None, "score", len(judges)), **scores}
    return out


def redteam_sample(run: RunFolder, sample: Sample, ids: SampleIds) -> dict[str, Any]:
    row = sample.row
    seed_id = run.field_of(sample, "seed_id", str)
    conversation = run.field_of(sample, "conversation", list)
    attack = run.field_of(sample, "attack", str)
    meta = {"attack": attack, "category": row.get("category"), "language": row.get("language"),
            "seed_prompt": row.get("seed_prompt"), "cache_hit": row.get("cache_hit")}
    if row.get("transcript") is not None:
        meta["transcript"] = row["transcript"]
    replied = bool(conversation) and conversation[-1].get("role") == "assistant"
    sent = conversation[:-1] if replied else conversation
    sid = ids(seed_id)
    messages = [_message(sid, n, str(m.get("role")), str(m.get("content")), run.model if m.get("role") ==
                         "assistant" else None) for n, m in enumerate(sent, 1)]
    out = _base_sample(sid, seed_id, sample, messages or str(row.get("seed_prompt") or ""), "refuse", meta)
    if row.get("error") is not None or not replied:
        out["messages"] = messages
        _failed(out, run, str(row.get("error") or "no model reply to judge"))
        return out
    text = str(conversation[-1].get("content"))
    _answered(out, run, [*messages, _message(sid, len(messages) + 1, "assistant", text, run.model)], text, row)
    judges = run.field_of(sample, "judges", list)
    success = row.get("success") or {}
    share = sum(bool(v) for v in success.values()) / len(success) if success else None
    out["scores"] = {"attack_success": _panel_score(share, "score", len(judges)),
                     **{str(j["judge"]): judge_score(j) for j in judges}}
    return out


def _metric(name: str, value: Any, metadata: dict[str, Any] | None = None, group: str | None = None,
            key: str | None = None) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    out: dict[str, Any] = {"name": name, "value": value, "params": {}}
    if group is not None:
        out["group"] = group
    if metadata:
        out["metadata"] = metadata
    return key or name, out


def _with_ci(name: str, value: Any, ci: Any, **meta: Any) -> list[tuple[str, dict[str, Any]] | None]:
    """``name`` with the CI in its metadata, and the CI's limits as metrics of their own."""
    ci = ci if isinstance(ci, list | tuple) and len(ci) == 2 else [None, None]
    meta = {"ci95": list(ci), **meta}
    return [_metric(name, value, meta), _metric("ci95_low", ci[0]), _metric("ci95_high", ci[1])]


def _score(name: str, scorer: str, metrics: Iterable[tuple[str, dict[str, Any]] | None], *,
           scored: int | None = None, unscored: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "scorer": scorer, "params": {},
                           "metrics": dict(m for m in metrics if m is not None)}
    if scored is not None:
        out["scored_samples"] = scored
    if unscored is not None:
        out["unscored_samples"] = unscored
    return out


def mcq_scores(block: dict[str, Any]) -> list[dict[str, Any]]:
    metrics = _with_ci("accuracy", block.get("accuracy"), block.get("ci95"), ci_method=block.get("ci_method"),
                       level=0.95, n=block.get("n"), n_correct=block.get("n_correct"),
                       n_invalid=block.get("n_invalid"), n_error=block.get("n_error"))
    for subject, sub in (block.get("subjects") or {}).items():
        metrics.append(_metric(subject, sub.get("accuracy"), {"ci95": sub.get("ci95"), "n": sub.get("n"),
                                                              "ci_method": sub.get("ci_method")},
                               group="accuracy by subject", key=f"subject:{subject}"))
    return [_score("choice", "choice", metrics, scored=block.get("n"), unscored=block.get("n_error"))]


def _mean_metrics(summary: dict[str, Any], **meta: Any) -> list[tuple[str, dict[str, Any]] | None]:
    mean = summary.get("mean") or {}
    return _with_ci("mean", mean.get("value"), mean.get("ci"), level=mean.get("level"), n=mean.get("n"), **meta)


def safety_scores(block: dict[str, Any]) -> list[dict[str, Any]]:
    scores = []
    for kind, panel in (block.get("judged_by") or {}).items():
        overall = panel.get("overall_avg") or {}
        metrics = _with_ci("mean", overall.get("value"), overall.get("ci"), level=overall.get("level"),
                           n=overall.get("n"), definition=panel.get("overall_definition"))
        metrics += [_metric("mean_of_judge_means", panel.get("mean_of_judge_means")),
                    _metric("judge_means_range", (panel.get("spread") or {}).get("judge_means_range"))]
        n_items, n_unscored = panel.get("n_items"), panel.get("n_items_unscored")
        scores.append(_score(kind, kind, metrics, scored=None if n_items is None else n_items - (n_unscored or 0),
                             unscored=n_unscored))
        by_expected = panel.get("refusal_rate_by_expected") or {}
        for label, judge in (panel.get("judges") or {}).items():
            metrics = _mean_metrics(judge, n_unparsed=judge.get("n_unparsed"), n_failed=judge.get("n_failed"),
                                    config_hash=judge.get("config_hash"), scale=judge.get("scale"))
            for share in ("share_1", "share_ge_4"):
                if share in judge:
                    metrics.append(_metric(share, judge[share].get("value"), {"ci95": judge[share].get("ci"),
                                                                              "k": judge[share].get("k"),
                                                                              "n": judge[share].get("n")}))
            for expected, rates in by_expected.items():
                rate = (rates.get("judges") or {}).get(label) or {}
                metrics.append(_metric(expected, rate.get("rate"), {"ci95": rate.get("ci95"), "n": rate.get("n")},
                                       group="refusal rate by expected behaviour", key=f"refusal_rate:{expected}"))
            scores.append(_score(label, kind, metrics, scored=judge.get("n_scored"),
                                 unscored=(judge.get("n_unparsed") or 0) + (judge.get("n_failed") or 0)))
    return scores


def redteam_scores(block: dict[str, Any]) -> list[dict[str, Any]]:
    scores = [_score("attack_success", "attack_success",
                     _with_ci("asr", block.get("asr"), block.get("ci95"), n_attempts=block.get("n_attempts"),
                              n_judged=block.get("n_judged"), n_failed=block.get("n_failed")),
                     scored=block.get("n_judged"), unscored=block.get("n_failed"))]
    for label, judge in (block.get("judges") or {}).items():
        scores.append(_score(label, "msb", _with_ci("asr", judge.get("asr"), judge.get("ci95"), k=judge.get("k"),
                                                    n=judge.get("n"), n_unparsed=judge.get("n_unparsed")),
                             scored=judge.get("n"), unscored=judge.get("n_unparsed")))
    return scores


BUILDERS: dict[str, tuple[Callable[[RunFolder, Sample, SampleIds], dict[str, Any]],
                          Callable[[dict[str, Any]], list[dict[str, Any]]]]] = {
    "mcq": (mcq_sample, mcq_scores),
    "safety": (safety_sample, safety_scores),
    "redteam": (redteam_sample, redteam_scores),
}


def _generate_config(run: RunFolder) -> dict[str, Any]:
    params = run.manifest.config.get("params") or {}
    out = {k: params[k] for k in ("temperature", "max_tokens", "top_p", "seed") if params.get(k) is not None}
    if params.get("stop"):
        out["stop_seqs"] = list(params["stop"])
    return out


def _results_metadata(run: RunFolder, task: Task) -> dict[str, Any]:
    meta: dict[str, Any] = {"safemed_results": task.block}
    r = run.results
    if task.kind == "mcq" and r.get("macro_average") is not None:
        meta["macro_average"] = r["macro_average"]
    over = r.get("over_refusal")
    if task.kind == "safety" and isinstance(over, dict) and task.name in (over.get("sets") or []):
        meta["over_refusal"] = over
    if task.kind == "safety" and r.get("refusal") is not None:
        meta["refusal"] = r["refusal"]
    if task.kind == "redteam":
        meta.update({k: r[k] for k in ("success_definition", "overall", "seeds", "n_seeds") if k in r})
    return meta


def task_label(task: Task) -> str:
    """The inspect task name: the benchmark, or ``redteam-<attack>``."""
    return f"redteam-{task.name}" if task.kind == "redteam" else task.name


def inspect_log(run: RunFolder, task: Task) -> dict[str, Any]:
    """The inspect eval log of one task of the run (a dict ready for JSON)."""
    m = run.manifest
    build_sample, build_scores = BUILDERS[task.kind]
    ids = SampleIds()
    samples = [build_sample(run, s, ids) for s in task.samples]
    errors = [s for s in samples if "error" in s]
    task_id = _short_id(m.id, task.name)
    model_config = m.config.get("model") if isinstance(m.config.get("model"), dict) else {}
    spec: dict[str, Any] = {
        "eval_id": _short_id(m.id, task.name, "eval"), "run_id": m.id, "created": m.started_at,
        "task": task_label(task), "task_id": task_id, "task_version": 0, "task_attribs": {}, "task_args": {},
        "task_args_passed": {}, "solver": "safemed", "solver_args_passed": {}, "tags": ["safemed", task.kind],
        "dataset": {"name": task.name, "samples": len(samples), "sample_ids": [s["id"] for s in samples],
                    "shuffled": bool(m.config.get("shuffle", False))},
        "model": run.model, "model_generate_config": _generate_config(run), "model_args": model_config or {},
        "config": {k: v for k, v in (("limit", m.config.get("limit")), ("epochs", 1)) if v is not None},
        "packages": dict(m.versions),
        "metadata": {"safemed": {**run.trace(), "task_kind": task.kind, "command": list(m.command),
                                 "model_artifact": m.config.get("model_artifact"),
                                 "judges": m.config.get("panels") or m.config.get("judges"),
                                 "judge_engines": m.config.get("judge_engines"),
                                 "prompt_version": m.config.get("prompt_version")}},
    }
    if isinstance(model_config, dict) and model_config.get("base_url"):
        spec["model_base_url"] = model_config["base_url"]
    usage = _sum_usage(s.get("model_usage", {}).get(run.model) for s in samples)
    log: dict[str, Any] = {
        "version": LOG_VERSION, "status": "error" if errors else "success", "eval": spec,
        "plan": {"name": "plan", "steps": [{"solver": f"safemed/{task.kind}", "params": {
            "prompt_version": m.config.get("prompt_version"), "score_as": m.config.get("score_as")}}],
            "config": _generate_config(run)},
        "results": {"total_samples": len(samples), "completed_samples": len(samples) - len(errors),
                    "scores": build_scores(task.block), "metadata": _results_metadata(run, task)},
        "stats": {"started_at": m.started_at, "completed_at": m.finished_at or "",
                  "model_usage": {run.model: usage} if usage else {}, "role_usage": {},
                  "connection_limit_history": []},
    }
    if errors:
        log["error"] = _error(f"{len(errors)} of {len(samples)} samples have no score: their requests failed "
                              "after every retry (re-running the same safemed command retries just those)")
    log.update({"invalidated": False, "tags": [], "metadata": {}, "samples": samples})
    return log


def log_name(run: RunFolder, task: Task) -> str:
    """``<created>_<task>_<id>.json``, inspect's own naming (what `inspect view` lists)."""
    return (f"{clean_component(run.manifest.started_at)}_{clean_component(task_label(task))}_"
            f"{_short_id(run.manifest.id, task.name)}.json")


def inspect_logs(run: RunFolder) -> list[tuple[str, dict[str, Any]]]:
    """(file name, log) for every task of the run."""
    return [(log_name(run, task), inspect_log(run, task)) for task in tasks_of(run)]
