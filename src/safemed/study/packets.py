"""Blinded rating packets: one per rater, shuffled with a seed, the key kept apart.

Paper step "blinded clinician comparison". Every vignette that has a response from both planned
sources contributes one *packet item* per source; each item gets a random four-or-more-digit id
(``I-0417``) drawn with the seed, so neither the id nor its position says which source wrote it.
Each rater's packet (``packets/<rater>.csv`` and a printable ``packets/<rater>.html``) holds every
item, in an order shuffled independently per rater. The responses were normalised to one plain
format (:mod:`.responses`), so no formatting tell remains; no source name appears in a packet.

``key.json`` (packet item → vignette and source, the orders, the exclusions) sits next to the
``packets/`` folder, never inside it: hand out only ``packets/``. ``plan.json`` is the plan the
packets were made for; ``manifest.json`` records the inputs and outputs. The folder appears at
once, complete, or not at all.

CSV columns: ``packet_item, rater, vignette, response, <one per dimension…>, comment``; raters
fill the dimension columns with whole numbers on the plan's scale (``comment`` is free text).
"""

from __future__ import annotations

import csv
import html
import os
import random
import shutil
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemed.artifacts import atomic_write_json, new_manifest, now_iso, sha256_file, write_manifest
from safemed.errors import ConfigError
from safemed.study.plan import SOURCE_PATTERN, dimension_names, load_plan, plan_sha256
from safemed.study.responses import Responses, normalise_response, read_responses, read_vignettes

KEY = "key.json"
PLAN = "plan.json"
PACKETS = "packets"
FIXED_COLUMNS = ("packet_item", "rater", "vignette", "response")
COMMENT = "comment"
KEY_SCHEMA = "safemed.study-key/1"


@dataclass(frozen=True)
class PacketsResult:
    """What :func:`write_packets` wrote."""

    out: Path
    packets: list[Path]
    key: Path
    n_vignettes: int
    n_items: int
    excluded: list[dict[str, str]]
    manifest_id: str
    ratings_task: dict[str, str] | None = None


def columns(plan: Mapping[str, Any]) -> list[str]:
    """The packet CSV's header for ``plan``."""
    return [*FIXED_COLUMNS, *dimension_names(plan), COMMENT]


def _check_raters(raters: Sequence[str]) -> list[str]:
    names = [r.strip() for r in raters]
    if not names:
        raise ConfigError("--raters: name at least one rater")
    bad = [r for r in names if not SOURCE_PATTERN.match(r)]
    if bad:
        raise ConfigError(f"--raters: {bad[0]!r} is not a usable rater name (letters, digits, . _ -; it names a file)")
    dupes = sorted({r for r in names if names.count(r) > 1})
    if dupes:
        raise ConfigError(f"--raters: repeated: {', '.join(dupes)}")
    return names


def _html_packet(plan: Mapping[str, Any], rater: str, rows: list[dict[str, str]]) -> str:
    lo, hi = plan["scale"]["min"], plan["scale"]["max"]
    esc = html.escape
    anchors = "".join(
        f"<tr><th>{esc(d['name'])}</th><td>" + "; ".join(f"{esc(k)} = {esc(v)}" for k, v in d["anchors"].items())
        + "</td></tr>" for d in plan["dimensions"])
    items = []
    for row in rows:
        response = "".join(f"<p>{esc(p)}</p>" for p in row["response"].split("\n\n"))
        response = response.replace("\n", "<br>")
        boxes = "".join(f"<tr><th>{esc(d)}</th><td class=box>{lo} … {hi}: ______</td></tr>"
                        for d in dimension_names(plan))
        items.append(f"<section><h2>{esc(row['packet_item'])}</h2><h3>Vignette</h3><p>{esc(row['vignette'])}</p>"
                     f"<h3>Response</h3><div class=response>{response}</div><table>{boxes}</table>"
                     "<p>Comment: ____________________</p></section>")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>Rating packet: {esc(rater)}</title><style>body{{font-family:serif;max-width:46em;margin:auto}}"
            "section{break-inside:avoid;border-top:1px solid #888;padding:.5em 0}"
            ".response{white-space:normal}td.box{width:12em}th{text-align:left;padding-right:1em}</style>"
            f"</head><body><h1>Rating packet: {esc(rater)}</h1>"
            f"<p>Rate every response on each dimension with a whole number from {lo} to {hi}. The responses "
            "come from different sources in a random order; rate each on its own merits.</p>"
            f"<table>{anchors}</table>{''.join(items)}</body></html>\n")


def create_likert_task(plan: Mapping[str, Any], rows: Sequence[Mapping[str, str]], url: str, name: str | None,
                       raters: int, seed: int) -> dict[str, str]:
    """A ``likert`` task in the rating store at ``url`` holding the blinded items (no source is
    stored with them), every item to be rated by ``raters`` raters; returns its id and name."""
    from safemed.ratings import RatingStore, Unit

    if (plan["scale"]["min"], plan["scale"]["max"]) != (1, 5):
        raise ConfigError(f"the review app rates on 1-5; this plan's scale is {plan['scale']['min']}-"
                          f"{plan['scale']['max']} (use the CSV packets)")
    name = name or f"study-{plan['plan_id'][:8]}"
    anchors = " ".join(f"{d['name']}: " + "; ".join(f"{k} = {v}" for k, v in d["anchors"].items()) + "."
                       for d in plan["dimensions"])
    units = [Unit(id=row["packet_item"], prompt=row["vignette"], responses=(row["response"],)) for row in rows]
    with RatingStore.open(url) as store:
        task_id = store.create_task(name, "likert", units, dimensions=dimension_names(plan), raters_per_unit=raters,
                                    seed=seed, instructions="Rate each response on every dimension from 1 to 5. "
                                    "Responses come from different sources in a random order. " + anchors)
    return {"id": task_id, "name": name}


def _length_summary(lengths: Sequence[int]) -> dict[str, float]:
    """Median and quartiles of response lengths (the blinding check a report shows)."""
    q1, median, q3 = statistics.quantiles(lengths, n=4, method="inclusive") if len(lengths) > 1 else [lengths[0]] * 3
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


def _item_ids(n: int, rng: random.Random) -> list[str]:
    width = max(4, len(str(10 * n)))
    numbers = rng.sample(range(10 ** (width - 1), 10 ** width), n)
    return [f"I-{number}" for number in numbers]


def write_packets(
    plan_path: Path,
    vignettes_path: Path,
    responses: Mapping[str, Path],
    raters: Sequence[str],
    *,
    seed: int,
    out: Path,
    ratings_db: str | None = None,
    ratings_task: str | None = None,
) -> PacketsResult:
    """Write the packets, key, plan copy and manifest into ``out`` (which must not exist or be empty).

    ``responses`` maps each of the plan's two sources (``candidate`` and ``baseline``) to a JSONL
    file or a ``safemed eval`` run folder. Vignettes missing a response from either source are
    left out and listed in the key (the analysis reports them as exclusions).

    ``ratings_db`` (a database URL) also creates a ``likert`` rating task there (name
    ``ratings_task``, default ``study-<plan id[:8]>``) with the same blinded items, so raters can
    rate in the review app; ``safemed ratings export TASK --format jsonl`` output is then accepted
    by ``analyze`` like the CSV sheets. The app's scale is 1–5, so the plan's must be too.
    """
    plan_path, vignettes_path, out = Path(plan_path), Path(vignettes_path), Path(out)
    plan = load_plan(plan_path)
    sha = plan_sha256(plan)
    wanted = [plan["candidate"], plan["baseline"]]
    if sorted(responses) != sorted(wanted):
        raise ConfigError(f"--responses must name exactly the plan's sources {', '.join(wanted)} "
                          f"(got {', '.join(responses) or 'none'})")
    rater_names = _check_raters(raters)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not empty; choose a new --out folder")
    vignettes = {vid: normalise_response(text) for vid, text in read_vignettes(vignettes_path).items()}
    sources: dict[str, Responses] = {name: read_responses(name, Path(responses[name]), vignettes) for name in wanted}
    included: list[str] = []
    excluded: list[dict[str, str]] = []
    for vid in vignettes:
        missing = [name for name in wanted if vid not in sources[name].by_vignette]
        if missing:
            excluded.append({"vignette_id": vid, "reason": "no response from " + " and ".join(missing)})
        else:
            included.append(vid)
    if len(included) < 2:
        raise ConfigError(f"only {len(included)} vignette(s) have responses from both sources; a paired study "
                          "needs at least two")
    rng = random.Random(seed)
    pairs = [(vid, name) for vid in included for name in wanted]
    ids = _item_ids(len(pairs), rng)
    items = dict(zip(ids, pairs, strict=True))
    orders: dict[str, list[str]] = {}
    for rater in rater_names:
        order = sorted(items)
        rng.shuffle(order)
        orders[rater] = order
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / PACKETS).mkdir()
        header = columns(plan)
        written: list[str] = []
        for rater in rater_names:
            rows = [{"packet_item": item, "rater": rater, "vignette": vignettes[items[item][0]],
                     "response": sources[items[item][1]].by_vignette[items[item][0]]} for item in orders[rater]]
            csv_name = f"{PACKETS}/{rater}.csv"
            with open(tmp / csv_name, "w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=header, quoting=csv.QUOTE_ALL, restval="")
                writer.writeheader()
                writer.writerows(rows)
            html_name = f"{PACKETS}/{rater}.html"
            (tmp / html_name).write_text(_html_packet(plan, rater, rows), encoding="utf-8")
            written += [csv_name, html_name]
        inputs = [plan_path, vignettes_path, *(f for s in sources.values() for f in s.files)]
        key = {
            "schema": KEY_SCHEMA,
            "plan_sha256": sha,
            "plan_id": plan["plan_id"],
            "created_at": now_iso(),
            "seed": seed,
            "sources": wanted,
            "raters": rater_names,
            "vignettes": included,
            "excluded": excluded,
            "items": {item: {"vignette_id": vid, "source": name} for item, (vid, name) in sorted(items.items())},
            "orders": orders,
            "responses": {name: {"path": str(s.path), "files": [{"path": str(f), "sha256": sha256_file(f)}
                                                                 for f in s.files],
                                 "run_manifest_id": s.run_manifest_id, "skipped_failed": s.skipped}
                          for name, s in sources.items()},
            "vignettes_sha256": sha256_file(vignettes_path),
            "response_chars": {name: _length_summary([len(sources[name].by_vignette[v]) for v in included])
                               for name in wanted},
        }
        if ratings_db is not None:
            first = rater_names[0]
            ordered = [{"packet_item": item, "vignette": vignettes[items[item][0]],
                        "response": sources[items[item][1]].by_vignette[items[item][0]]} for item in orders[first]]
            key["ratings_task"] = create_likert_task(plan, ordered, ratings_db, ratings_task, len(rater_names), seed)
        atomic_write_json(tmp / KEY, key)
        atomic_write_json(tmp / PLAN, plan)
        parents = [plan["plan_id"], *(s.run_manifest_id for s in sources.values() if s.run_manifest_id)]
        manifest = new_manifest("study-packets", config={"plan_sha256": sha, "raters": rater_names,
                                                         "sources": wanted, "n_vignettes": len(included),
                                                         "n_items": len(items), "excluded": excluded},
                                seed=seed, inputs=inputs, parents=parents)
        write_manifest(tmp, manifest, outputs=[*written, KEY, PLAN])
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PacketsResult(out, [out / w for w in written if w.endswith(".csv")], out / KEY, len(included),
                         len(items), excluded, manifest.id, key.get("ratings_task"))
