"""SFT data: curated exports and safety demonstrations become weighted prompt/completion rows;
anything else, or any malformed row, is an error naming file, line and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from safemed.artifacts import read_manifest
from safemed.errors import DataError
from safemed.train.config import SftConfig, load_config
from safemed.train.data import load_sft_data, mix, shares

from .conftest import MSB_ROWS


def sft_config(*datasets: Any, **fields: Any) -> SftConfig:
    return load_config(SftConfig, None, {"datasets": list(datasets), **fields})


def test_curated_rows_keep_reasoning_in_think_and_weights_follow_scores(curated_export: Path) -> None:
    manifest = read_manifest(curated_export)
    exported = [json.loads(line) for line in (curated_export / "sft.jsonl").read_text().splitlines()]
    data = load_sft_data(sft_config(str(curated_export), trust_weighting="min", trust_floor=0.1))
    assert len(data.rows) == len(exported) == 10
    (use,) = data.uses
    assert use.id == manifest.id and use.kind == "curated" and use.artifact_kind == "curated-dataset"
    assert use.ledger == manifest.config["ledger"] and use.rows_used == 10
    assert use.sha256 == next(d.sha256 for d in manifest.outputs if d.path == "sft.jsonl")

    by_id = {r["row_id"]: r for r in data.rows}
    for row in exported:
        prov = row["provenance"]
        ours = by_id[f"{prov['item_id']}/{prov['trace_id']}"]
        assert ours["prompt"] == [row["messages"][0]]
        text = ours["completion"][0]["content"]
        assert text.startswith("<think>\n") and text.count("<think>") == 1 and text.count("</think>") == 1
        final = row["messages"][1]["content"].rstrip().rsplit("\n", 1)[1]
        assert text.endswith("</think>\n\n" + final) or text.rsplit("</think>", 1)[1].strip().endswith(final)
        assert text.count(final) == 1  # the demo traces' own copy of the answer line is not repeated
        assert ours["weight"] == pytest.approx((min(prov["mean_scores"].values()) - 1) / 4)
        assert ours["source"] == manifest.id
    assert {r["weight"] for r in data.rows} == {0.5, 0.75, 0.875}  # min of (3|4|5 and 4.5), (m − 1)/4


def test_weighting_schemes_and_floor(curated_export: Path, msb_samples: Path) -> None:
    mean = load_sft_data(sft_config(str(curated_export), trust_weighting="mean"))
    for row in mean.rows:
        assert 0.5 <= row["weight"] <= 1.0
    correct = load_sft_data(sft_config(str(curated_export), trust_weighting="correctness"))
    assert {r["weight"] for r in correct.rows} == {(4.5 - 1) / 4}  # medical_correctness / ethical_soundness 4.5
    floor = load_sft_data(sft_config(str(curated_export), trust_weighting="min", trust_floor=0.8))
    assert {r["weight"] for r in floor.rows} == {0.8, 0.875}
    mixed = load_sft_data(sft_config(str(curated_export), str(msb_samples), trust_weighting="min",
                                     unreviewed_weight=0.25))
    demo = [r for r in mixed.rows if r["row_id"].startswith(("med_safety", "ft_safety"))]
    assert len(demo) == 6 and {r["weight"] for r in demo} == {0.25}
    none = load_sft_data(sft_config(str(curated_export), str(msb_samples)))
    assert {r["weight"] for r in none.rows} == {1.0}


def test_demonstrations_from_csv_and_json(msb_samples: Path) -> None:
    data = load_sft_data(sft_config(str(msb_samples)))
    assert sorted(Path(u.file).name for u in data.uses) == ["ft_safety_med_n3.json",
                                                            "med_safety_demonstrations_category_1.csv"]
    assert all(u.id == "file:" + u.sha256[:16] and u.artifact_kind is None and u.rows_used == 3 for u in data.uses)
    prompts = {r["prompt"][0]["content"]: r["completion"][0]["content"] for r in data.rows}
    for request, response in MSB_ROWS:
        assert prompts[request] == f"<think>\n\n</think>\n\n{response}"
    rows = {r["row_id"] for r in data.rows}
    assert "med_safety_demonstrations_category_1.csv:2" in rows and "ft_safety_med_n3.json:2" in rows
    assert "med_safety_demonstrations_category_1.csv:5" in rows  # the row after a two-line response
    plain = load_sft_data(sft_config(str(msb_samples / "ft_safety_med_n3.json"), think_tags=False))
    assert {r["completion"][0]["content"] for r in plain.rows} == {s for _, s in MSB_ROWS}


def test_real_med_safety_bench_demonstrations(data_dir: Path) -> None:
    train = data_dir / "med_safety_bench" / "datasets"
    data = load_sft_data(sft_config({"path": str(train / "train" / "gpt4"), "limit": 60},
                                    str(train / "train-splits-used-for-ft" / "med_safety" / "ft_safety_med_n900.json"),
                                    mix_rows=100))
    assert len(data.rows) == 100
    assert all(r["prompt"][0]["content"] and r["completion"][0]["content"].startswith("<think>\n\n</think>\n\n")
               for r in data.rows)
    assert sum(u.rows_used for u in data.uses) == 100


def expect_error(cfg: SftConfig, path: Path, line: int | None, field: str | None) -> DataError:
    with pytest.raises(DataError) as err:
        load_sft_data(cfg)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), line, field), str(err.value)
    return err.value


def test_bad_curated_rows_name_file_line_and_field(curated_export: Path, tmp_path: Path) -> None:
    lines = (curated_export / "sft.jsonl").read_text().splitlines()
    cases = [
        (lambda r: r["provenance"].pop("mean_scores"), "provenance.mean_scores"),
        (lambda r: r["provenance"]["mean_scores"].update(clinical_utility=7), "provenance.mean_scores"),
        (lambda r: r["messages"][1].update(content="no final answer here"), "messages[1].content"),
        (lambda r: r["messages"][0].update(role="system"), "messages[0].role"),
        (lambda r: r.pop("provenance"), "provenance"),
        (lambda r: r["messages"].pop(), "messages"),
    ]
    for edit, field in cases:
        row = json.loads(lines[2])
        edit(row)
        bad = tmp_path / "bad.jsonl"
        bad.write_text("\n".join([lines[0], lines[1], json.dumps(row)]) + "\n")
        expect_error(sft_config(str(bad), trust_weighting="mean"), bad, 3, field)
    bad.write_text(lines[0] + "\n{not json\n")
    assert "invalid JSON" in str(expect_error(sft_config(str(bad)), bad, 2, None))


def test_bad_demonstrations_name_file_line_and_field(msb_samples: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "med_safety_demonstrations_category_2.csv"
    csv_file.write_text(',harmful_medical_request,safe_response\n0,"ask","two\nlines"\n1,ask again,\n')
    expect_error(sft_config(str(csv_file)), csv_file, 4, "safe_response")
    csv_file.write_text(",request,safe_response\n0,a,b\n")
    expect_error(sft_config(str(csv_file)), csv_file, 1, "harmful_medical_request")
    json_file = tmp_path / "ft_safety_x.json"
    json_file.write_text('[\n  {"instruction": "a", "input": "", "output": "b"},\n  {"instruction": "c",\n'
                         '   "input": ""}\n]\n')
    expect_error(sft_config(str(json_file)), json_file, 3, "output")
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    assert "not an SFT source" in str(expect_error(sft_config(str(other)), other, None, None))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "not an SFT source" in str(expect_error(sft_config(str(empty)), empty, None, None))
    wrong_kind = sft_config({"path": str(msb_samples), "kind": "curated"})
    expect_error(wrong_kind, msb_samples, None, "kind")


def test_a_file_changed_after_export_is_refused(curated_export: Path, tmp_path: Path) -> None:
    copy = tmp_path / "export"
    shutil.copytree(curated_export, copy)
    lines = (copy / "sft.jsonl").read_text().splitlines()
    (copy / "sft.jsonl").write_text("\n".join(lines[:-1]) + "\n")  # a row removed after the export
    with pytest.raises(DataError, match=r"differs from .*manifest\.json"):
        load_sft_data(sft_config(str(copy)))


def test_grpo_export_is_not_sft_data(tmp_path: Path) -> None:
    from .conftest import build_curated_export

    grpo = build_curated_export(tmp_path, fmt="grpo")
    expect_error(sft_config(str(grpo)), grpo / "manifest.json", None, "kind")


def test_mix_follows_proportions_with_a_seed() -> None:
    assert shares(10, [1, 1, 1]) == [4, 3, 3] and shares(7, [3, 1]) == [5, 2] and sum(shares(99, [0.2, 0.3])) == 99
    a = [{"id": f"a{i}"} for i in range(10)]
    b = [{"id": f"b{i}"} for i in range(3)]
    rows, taken, repeats = mix([a, b], [1, 3], 20, seed=5)
    assert taken == [5, 15] and repeats == [0.5, 5.0]
    ids = [r["id"] for r in rows]
    assert sum(i.startswith("a") for i in ids) == 5 and len(set(i for i in ids if i.startswith("a"))) == 5
    assert all(ids.count(f"b{i}") == 5 for i in range(3))  # repeated in whole passes
    assert ids == [r["id"] for r in mix([a, b], [1, 3], 20, seed=5)[0]]  # same seed, same rows and order
    assert ids != [r["id"] for r in mix([a, b], [1, 3], 20, seed=6)[0]]
    everything, taken, _ = mix([a, b], [1, 3], None, seed=0)
    assert taken == [10, 3] and sorted(r["id"] for r in everything) == sorted(r["id"] for r in a + b)


def test_limit_and_mix_rows_in_the_data(curated_export: Path, msb_samples: Path) -> None:
    data = load_sft_data(sft_config({"path": str(curated_export), "limit": 4},
                                    {"path": str(msb_samples), "proportion": 2}, mix_rows=12, data_seed=3))
    assert len(data.rows) == 12
    by_source: dict[str, int] = {}
    for row in data.rows:
        by_source[row["source"]] = by_source.get(row["source"], 0) + 1
    curated = read_manifest(curated_export).id
    assert by_source[curated] == 4 and sum(v for k, v in by_source.items() if k != curated) == 8
    assert len({r["row_id"] for r in data.rows if r["source"] == curated}) == 4
    assert data.notes == [f"{msb_samples}: 8 rows from 6 (repeated 1.33×)"]
