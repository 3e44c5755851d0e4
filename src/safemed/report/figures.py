"""The report's figures, drawn with matplotlib (Agg) and embedded inline as base64 PNG.

SafeMed-R1's tables had no intervals; every figure here shows the interval it has: capability
bars with Wilson error bars, the safety categories with bootstrap CIs, attack success per
strategy, the curation funnel and the training curves. PNG data URIs (not SVG) keep the HTML free
of any URL, even a DTD's. Each function takes a section of ``evidence.json`` and returns
``{"title", "alt", "png"}`` dicts; a section without numbers has no figure.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Figure = dict[str, str]


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bars(labels: list[str], values: list[float], cis: list[list[float | None] | None], *, title: str,
          ylabel: str, ylim: tuple[float, float] | None = None) -> str:
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(labels) + 2), 3.2))
    lows = [v - (c[0] if c and c[0] is not None else v) for v, c in zip(values, cis, strict=True)]
    highs = [(c[1] if c and c[1] is not None else v) - v for v, c in zip(values, cis, strict=True)]
    ax.bar(range(len(values)), values, color="#4878a8", yerr=[lows, highs], capsize=4, ecolor="#222222")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center",
                       fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def capability_figures(section: dict[str, Any]) -> list[Figure]:
    out = []
    for k, run in enumerate(section.get("runs", []) if section.get("provided") else []):
        rows = [r for r in run["benchmarks"] if r["accuracy"] is not None]
        labels = [r["benchmark"] for r in rows]
        values = [100 * r["accuracy"] for r in rows]
        cis = [[100 * c for c in r["ci95"]] if r["ci95"] and None not in r["ci95"] else None for r in rows]
        macro = run["macro_average"]
        if macro["accuracy"] is not None:
            labels.append("macro avg")
            values.append(100 * macro["accuracy"])
            cis.append([100 * c for c in macro["ci95"]] if macro["ci95"] and None not in macro["ci95"] else None)
        if values:
            out.append({"title": f"Accuracy with 95% CI — run {k + 1} ({_short(run['model'], 40)})",
                        "alt": "bar chart of accuracy per benchmark with error bars",
                        "png": _bars(labels, values, cis, title="accuracy (%)", ylabel="%", ylim=(0, 100))})
    return out


def _score_title(kind: dict[str, Any]) -> str:
    direction = str(kind["scale"].get("direction") or "").replace("_", " ")
    return f"{kind['judge_kind']} score" + (f" ({direction})" if direction and direction != "neither" else "")


def safety_figures(section: dict[str, Any]) -> list[Figure]:
    out = []
    for run in section.get("runs", []) if section.get("provided") else []:
        for block in run["sets"]:
            for kind in block["kinds"]:
                cats = [c for c in kind["by_category"] if c["overall"]["value"] is not None]
                if not cats:
                    continue
                scale = kind["scale"]
                ylim = (float(scale["low"]), float(scale["high"])) if scale.get("low") is not None else None
                over = run.get("over_refusal")
                suffix = (f"; over-refusal {100 * over['rate']:.1f}%" if over and over.get("rate") is not None
                          else "; over-refusal not measured")
                out.append({"title": f"{block['benchmark']} — {kind['judge_kind']} by category, mean over judges "
                                     f"with 95% CI{suffix}",
                            "alt": "bar chart of the panel mean score per safety category",
                            "png": _bars([c["name"] for c in cats], [c["overall"]["value"] for c in cats],
                                         [c["overall"]["ci"] for c in cats], title=_score_title(kind),
                                         ylabel="score", ylim=ylim)})
    return out


def redteam_figures(section: dict[str, Any]) -> list[Figure]:
    out = []
    for run in section.get("runs", []) if section.get("provided") else []:
        rows = [a for a in run["attacks"] if a["asr"] is not None]
        if rows:
            out.append({"title": f"Attack success per strategy with 95% CI ({_short(run['model'], 40)})",
                        "alt": "bar chart of attack success rate per attack strategy",
                        "png": _bars([a["attack"] for a in rows], [100 * a["asr"] for a in rows],
                                     [[100 * c for c in a["ci95"]] if a["ci95"] and None not in a["ci95"] else None
                                      for a in rows], title="attack success (%)", ylabel="%", ylim=(0, 100))})
    return out


FUNNEL_ORDER = ("imported", "deduplicated", "generated", "correct_trace", "reviewed", "escalated", "adjudicated",
                "retained")


def funnel_figures(section: dict[str, Any]) -> list[Figure]:
    out = []
    for export in section.get("exports", []) if section.get("provided") else []:
        funnel = export["funnel"]
        stages = [s for s in FUNNEL_ORDER if s in funnel]
        if not stages:
            continue
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh(range(len(stages)), [funnel[s] for s in stages], color="#6a9f58")
        ax.set_yticks(range(len(stages)))
        ax.set_yticklabels(stages, fontsize=8)
        ax.invert_yaxis()
        for y, s in enumerate(stages):
            ax.text(funnel[s], y, f" {funnel[s]:,}", va="center", fontsize=8)
        ax.set_xlabel("items")
        ax.set_title("curation funnel" + (" (SIMULATED reviews)" if export.get("simulated") else ""), fontsize=10)
        out.append({"title": f"Curation funnel of export {export['id'][:12]}", "alt": "horizontal bars: items "
                    "at each curation stage", "png": _png(fig)})
    return out


def training_figures(section: dict[str, Any]) -> list[Figure]:
    curves = section.get("curves") or {} if section.get("provided") else {}
    if not curves:
        return []
    names = list(curves)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        points = curves[name]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, color="#a85448")
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return [{"title": f"Training curves ({section.get('stage')}, from steps.jsonl)", "alt": "line charts of the "
             "training step log", "png": _png(fig)}]


def ablation_figures(section: dict[str, Any]) -> list[Figure]:
    """Each non-base variant's paired difference against the base, per row, with its 95% CI."""
    if not section.get("provided"):
        return []
    out = []
    for variant in [v for v in section["variants"] if v != section.get("base")]:
        rows = [(r["label"], r["cells"][variant]["paired"]) for r in section["rows"]
                if variant in r["cells"] and r["cells"][variant]["paired"]
                and r["cells"][variant]["paired"]["difference"] is not None]
        if not rows:
            continue
        fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 1.2))
        for y, (_, d) in enumerate(rows):
            c = d["ci95"] if d["ci95"] and None not in d["ci95"] else [d["difference"], d["difference"]]
            ax.plot(c, [y, y], color="#222222")
            ax.plot([d["difference"]], [y], "o", color="#4878a8")
        ax.axvline(0, color="#999999", linewidth=1)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([_short(label, 40) for label, _ in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"{variant} minus {section.get('base')} (paired, 95% CI)", fontsize=8)
        out.append({"title": f"Ablation: {variant} vs {section.get('base')}", "alt": "paired differences with "
                    "confidence intervals per ablation row", "png": _png(fig)})
    return out


def all_figures(evidence: dict[str, Any]) -> dict[str, list[Figure]]:
    return {"ablation": ablation_figures(evidence["ablation"]),
            "capability": capability_figures(evidence["capability"]),
            "safety": safety_figures(evidence["safety"]), "redteam": redteam_figures(evidence["redteam"]),
            "curation": funnel_figures(evidence["curation"]), "training": training_figures(evidence["training"])}
