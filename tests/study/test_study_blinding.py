"""Blinding: no source name anywhere in a packet, no formatting tell, no ordering tell; the key
kept apart; responses from an eval run folder lose their reasoning like every other source."""

from __future__ import annotations

import csv
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as sps

from safemed.errors import ConfigError, DataError
from safemed.study.packets import write_packets
from safemed.study.plan import make_plan, write_plan
from safemed.study.responses import normalise_response

from .conftest import RATERS

VIGNETTES = [{"id": f"v{i:02d}", "vignette": f"Case {i}: a patient on drug {i} is prescribed drug {i + 1}. "
              "What should be done?"} for i in range(1, 25)]
# distinctive source names, and deliberately different house styles
CANDIDATE, BASELINE = "zephyr-llm-9b", "dr-okonkwo-team"


def _model_answer(i: int) -> str:
    return (f"<think>Drug {i} and drug {i + 1} interact via CYP3A4; I should say so.</think>\n"
            f"## Assessment\n\n**Risk:** drug {i} levels rise.\n\n* Check levels in _3 days_\n"
            f"* Consider `an alternative`\n\n---\n1) Document the plan  \n")


def _clinician_answer(i: int) -> str:
    return f"Levels of drug {i} may rise.\r\n\r\n\r\n- Recheck in 3 days.\u00a0\u00a0Consider an alternative."


def _write(tmp_path: Path) -> tuple[Path, Path, Path]:
    vfile = tmp_path / "v.jsonl"
    vfile.write_text("".join(json.dumps(v) + "\n" for v in VIGNETTES))
    run = tmp_path / "eval-run"  # the candidate as a `safemed eval` run folder
    run.mkdir()
    rows = [{"benchmark": "vignettes", "kind": "safety", "id": v["id"], "prompt": v["vignette"],
             "response": _model_answer(i)} for i, v in enumerate(VIGNETTES, 1)]
    rows.append({"benchmark": "vignettes", "kind": "safety", "id": "v99", "response": None, "error": "timeout"})
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "manifest.json").write_text(json.dumps({"id": "run-manifest-1"}))
    base = tmp_path / "clinician.jsonl"
    base.write_text("".join(json.dumps({"vignette_id": v["id"], "response": _clinician_answer(i)}) + "\n"
                            for i, v in enumerate(VIGNETTES, 1) if i != 5))  # v05 unanswered
    plan = tmp_path / "plan.json"
    write_plan(make_plan(["safety", "clarity"], candidate=CANDIDATE, baseline=BASELINE, n=24), plan)
    return plan, vfile, run


def test_packets_carry_no_source_tell(tmp_path: Path) -> None:
    plan, vfile, run = _write(tmp_path)
    out = tmp_path / "study"
    result = write_packets(plan, vfile, {CANDIDATE: run, BASELINE: tmp_path / "clinician.jsonl"}, RATERS,
                           seed=5, out=out)
    assert result.excluded == [{"vignette_id": "v05", "reason": f"no response from {BASELINE}"}]
    assert result.n_vignettes == 23 and result.n_items == 46
    key = json.loads((out / "key.json").read_text())
    assert not (out / "packets" / "key.json").exists()
    files = sorted((out / "packets").iterdir())
    assert [f.name for f in files] == sorted(f"{r}.{ext}" for r in RATERS for ext in ("csv", "html"))
    for f in files:
        text = f.read_text().lower()
        for tell in (CANDIDATE, BASELINE, "zephyr", "okonkwo", "<think", "cyp3a4", "model", "clinician"):
            assert tell not in text, (f.name, tell)
    source_of = {item: entry["source"] for item, entry in key["items"].items()}
    positions: dict[str, list[int]] = {CANDIDATE: [], BASELINE: []}
    orders = []
    for rater in RATERS:
        with open(out / "packets" / f"{rater}.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["packet_item"] for r in rows] == key["orders"][rater]
        orders.append([r["packet_item"] for r in rows])
        for pos, row in enumerate(rows):
            positions[source_of[row["packet_item"]]].append(pos)
            text = row["response"]
            # one plain format for every source: no markup, no reasoning, no odd whitespace
            tell = re.search(r"[*#`_~>]|\r|\u00a0|  |\n\n\n|^\s|\s$|---", text)
            assert tell is None, (source_of[row["packet_item"]], text)
            assert all(line == line.strip() for line in text.split("\n"))
            assert row["safety"] == row["clarity"] == row["comment"] == ""
        sources = [source_of[r["packet_item"]] for r in rows]
        assert sources != sorted(sources) and sources != sorted(sources, reverse=True)
        lengths = [len(r["response"]) for r in rows]
        assert lengths != sorted(lengths) and lengths != sorted(lengths, reverse=True)
    assert len({tuple(o) for o in orders}) == len(RATERS)  # shuffled independently per rater
    # position in the packet says nothing about the source (deterministic: the seed is fixed)
    assert sps.mannwhitneyu(positions[CANDIDATE], positions[BASELINE]).pvalue > 0.05
    # nor does the item id: sorting by id does not group one source
    by_id = [source_of[i] for i in sorted(key["items"])]
    runs = 1 + sum(a != b for a, b in itertools.pairwise(by_id))
    assert runs > len(by_id) / 4
    # a source's mean response position is balanced across raters
    assert abs(np.mean(positions[CANDIDATE]) - np.mean(positions[BASELINE])) < 0.15 * result.n_items
    assert key["responses"][CANDIDATE]["run_manifest_id"] == "run-manifest-1"
    assert key["responses"][CANDIDATE]["skipped_failed"] == ["v99"]


def test_normalise_response_is_the_same_for_every_source() -> None:
    assert normalise_response("<think>x</think>**Bold** and _it_ and `code`\n\n\n\n# Head #\n+ a\n2) b") == \
        "Bold and it and code\n\nHead\n\n- a\n2. b"
    assert normalise_response("<think>unclosed reasoning only") == ""
    assert normalise_response("snake_case_name stays, 2*3*4 too") == "snake_case_name stays, 2*3*4 too"
    same = ["Give 5\nmg.\n- Monitor.", "  Give 5 mg.  \r\n*   Monitor.", "**Give 5 mg.**\n\n\n• Monitor.  ",
            "## Give 5 mg.\n\n- Monitor.\n"]
    assert {normalise_response(s) for s in same} == {"Give 5 mg.\n\n- Monitor."}


def test_packets_refuse_bad_input(tmp_path: Path) -> None:
    plan, vfile, run = _write(tmp_path)
    base = tmp_path / "clinician.jsonl"
    with pytest.raises(ConfigError, match="exactly the plan's sources"):
        write_packets(plan, vfile, {"model": run, BASELINE: base}, RATERS, seed=1, out=tmp_path / "a")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"vignette_id": "v01", "response": "ok"}\n{"vignette_id": "nope", "response": "x"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: field 'vignette_id': unknown vignette 'nope'"):
        write_packets(plan, vfile, {CANDIDATE: run, BASELINE: bad}, RATERS, seed=1, out=tmp_path / "b")
    bad.write_text('{"vignette_id": "v01", "response": "ok"}\n{"vignette_id": "v01", "response": "x"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: .*second response"):
        write_packets(plan, vfile, {CANDIDATE: run, BASELINE: bad}, RATERS, seed=1, out=tmp_path / "c")
    with pytest.raises(ConfigError, match="repeated: R1"):
        write_packets(plan, vfile, {CANDIDATE: run, BASELINE: base}, ["R1", "R1"], seed=1, out=tmp_path / "d")
    assert not any((tmp_path / n).exists() for n in "abcd")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half-written folder
