"""The curated dataset's datasheet: Croissant 1.0 + RAI JSON-LD and a human-readable Markdown.

Both carry the curation funnel (imported → deduplicated → generated → reviewed → escalated →
retained) as counts, how items were annotated (rubric, reviewers per specialty as counts of
pseudonyms, agreement is left to ``safemed curate agreement``), how they were filtered (near
duplicates, contamination), and the ledger point every row's provenance refers to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemed.artifacts import atomic_write_json, atomic_write_text, now_iso, sha256_file
from safemed.records.curation import RUBRICS

CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/", "safemed": "https://github.com/safemed/safemed/ns#",
    "conformsTo": "dct:conformsTo", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "field": "cr:field", "recordSet": "cr:recordSet",
    "source": "cr:source", "extract": "cr:extract", "column": "cr:column", "fileObject": "cr:fileObject",
}

FUNNEL_ORDER = ("imported", "derived", "flagged_near_duplicate", "flagged_contamination", "deduplicated",
                "generated", "correct_trace", "reviewed", "escalated", "adjudicated", "retained", "rejected")


@dataclass(frozen=True)
class RowSummary:
    """What the datasheet says about the exported rows: how many, which specialties and kinds."""

    n: int
    specialties: list[str]
    kinds: list[str]


def _fields(fmt: str) -> list[dict[str, Any]]:
    names = (["messages", "provenance"] if fmt == "sft" else ["prompt", "answer", "provenance"])
    return [{"@type": "cr:Field", "@id": f"rows/{n}", "name": n, "dataType": "sc:Text",
             "source": {"fileObject": {"@id": f"{fmt}.jsonl"}, "extract": {"column": n}}} for n in names]


def croissant(*, name: str, fmt: str, rows: RowSummary, files: list[str], out: Path, funnel_counts: dict[str, int],
              ledger: dict[str, Any], reviewers: dict[str, int]) -> dict[str, Any]:
    """The JSON-LD document."""
    specialties, kinds = rows.specialties, rows.kinds
    return {
        "@context": CONTEXT, "@type": "sc:Dataset", "name": name,
        "conformsTo": "http://mlcommons.org/croissant/1.0", "datePublished": now_iso(),
        "description": (f"Medical {fmt.upper()} training data curated with clinical trust signals: model-generated "
                        "chains of thought scored and edited by physicians, adjudicated by an expert panel, "
                        "every row linked to its ledger events."),
        "distribution": [{"@type": "cr:FileObject", "@id": f, "name": f, "contentUrl": f,
                          "encodingFormat": "application/jsonlines" if f.endswith(".jsonl") else
                          "application/x-parquet", "sha256": sha256_file(out / f)} for f in files],
        "recordSet": [{"@type": "cr:RecordSet", "@id": "rows", "name": "rows", "field": _fields(fmt)}],
        "keywords": ["medicine", "clinical reasoning", *kinds, *specialties],
        "rai:dataCollection": ("Seed multiple-choice questions were imported; a generator model wrote a chain of "
                               "thought per item (re-asked up to five times when its answer disagreed with the "
                               "gold answer, then escalated to an expert panel)."),
        "rai:dataCollectionType": ["Machine generated", "Manual Human Curation"],
        "rai:dataAnnotationProtocol": (
            "Independent physicians of the item's specialty, blind to the generator and to each other, scored each "
            "trace 1-5 on its rubric (" + "; ".join(f"{k}: {', '.join(v)}" for k, v in RUBRICS.items())
            + ") and could edit it; disagreements of more than one point or keep/reject conflicts went to an "
            "adjudication panel. Retention rule: see each row's provenance.retention_reason."),
        "rai:dataAnnotationPlatform": "safemed curate (review queue files or the review web app)",
        "rai:annotatorDemographics": {"reviewers_per_specialty": reviewers},
        "rai:dataPreprocessingProtocol": ("Near duplicates (MinHash LSH, Jaccard ≥ 0.8) and items sharing a 13-gram "
                                          "with an evaluation benchmark were flagged in the ledger and left out."),
        "rai:personalSensitiveInformation": ("Reviewers appear only as keyed-HMAC pseudonyms; the pseudonym key and "
                                             "the key-to-person map are kept outside the dataset and the ledger."),
        "rai:dataLimitations": "Counts below; items not yet reviewed or adjudicated are absent, not rejected.",
        "safemed:funnel": funnel_counts,
        "safemed:ledger": ledger,
        "safemed:rows": rows.n,
    }


def markdown(doc: dict[str, Any], funnel_counts: dict[str, int]) -> str:
    """The human-readable datasheet."""
    lines = [f"# Datasheet: {doc['name']}", "", doc["description"], "", "## Funnel", "",
             "| stage | items |", "|---|---:|"]
    lines += [f"| {stage.replace('_', ' ')} | {funnel_counts[stage]} |"
              for stage in FUNNEL_ORDER if stage in funnel_counts]
    ledger = doc["safemed:ledger"]
    signed = f" (signed checkpoint, key {ledger['checkpoint_key_id']})." if ledger.get("checkpoint_key_id") else "."
    lines += ["", f"Rows in this export: **{doc['safemed:rows']}**.", "", "## Provenance", "",
              f"Ledger `{ledger['origin']}` at tree size {ledger['tree_size']}, root `{ledger['root']}`"
              + signed,
              "Each row's `provenance.event_seqs` lists its ledger events; `safemed ledger proof ITEM_ID` proves "
              "them against this root.", "", "## Collection", "", doc["rai:dataCollection"], "",
              "## Annotation", "", doc["rai:dataAnnotationProtocol"], "", "Reviewers per specialty: "
              + (", ".join(f"{k} {v}" for k, v in doc["rai:annotatorDemographics"]["reviewers_per_specialty"].items())
                 or "none"), "", "## Filtering", "", doc["rai:dataPreprocessingProtocol"], "", "## Privacy", "",
              doc["rai:personalSensitiveInformation"], "", "## Files", ""]
    lines += [f"- `{d['name']}` sha256 `{d['sha256']}`" for d in doc["distribution"]]
    return "\n".join(lines) + "\n"


SIMULATED_NOTE = ("SIMULATED: the reviews and adjudications behind this dataset were produced by safemed's "
                  "simulated clinicians (a demonstration such as `safemed quickstart`), not by people. "
                  "Its trust signals show how the pipeline works; they are not clinical evidence.")
"""What a datasheet of an export with simulated reviews says first."""


def write_datasheets(out: Path, *, name: str, fmt: str, rows: RowSummary, files: list[str],
                     funnel_counts: dict[str, int], ledger: dict[str, Any], reviewers: dict[str, int],
                     simulated: bool = False) -> list[str]:
    """Write ``datasheet.json`` and ``datasheet.md``; returns their names. With ``simulated`` both
    carry :data:`SIMULATED_NOTE` (``safemed:simulated`` in the JSON, the first paragraph in Markdown)."""
    doc = croissant(name=name, fmt=fmt, rows=rows, files=files, out=out, funnel_counts=funnel_counts,
                    ledger=ledger, reviewers=reviewers)
    if simulated:
        doc["safemed:simulated"] = True
        doc["description"] = f"{SIMULATED_NOTE} {doc['description']}"
    atomic_write_json(out / "datasheet.json", doc)
    atomic_write_text(out / "datasheet.md", markdown(doc, funnel_counts))
    return ["datasheet.json", "datasheet.md"]
