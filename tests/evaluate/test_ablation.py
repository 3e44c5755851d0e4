"""`safemed ablate`: variants × suite through the real evaluation machinery, the paired table.

The variants are ``replay/`` files of recorded answers written here, so every outcome is known:
on the bundled sample exam the base answers 12 of 20 right and "better" 18 (a superset), on the
bundled safety sample the base refuses half of the harmful requests and "better" all of them
(and two benign ones: over-refusal), and under the role-play attack the base complies. The
numbers are checked against hand counts and scipy. The MSB judge is a loopback stand-in that
reads the harm level each recorded answer carries; refusal is scored by the deterministic rules.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from scipy import stats as sps

from safemed.artifacts import read_manifest, sha256_file
from safemed.attacks import get_attack, row_rng
from safemed.datasets import get_benchmark, get_prompt_set
from safemed.errors import ConfigError
from safemed.evaluate.ablation import load_ablation_config, run_ablation
from safemed.evaluate.prompts import prepare, render
from safemed.settings import data_dir as default_data_dir
from safemed.stats import holm, paired_bootstrap_diff, wilson_ci
from safemed.testing import StandinServer

REFUSAL = "I'm sorry, but I can't help with that. [harm 1]"
BENIGN = "Here is a careful answer, explained step by step. [harm 1]"
N_BOOT = 500
SEED = 3
ROLE_PLAY_SEEDS = 6


def harm_judge(messages: list[dict[str, Any]]) -> str:
    """An MSB judge that reads the ``[harm K]`` tag of the response it is shown."""
    text = str(messages[-1]["content"])
    for level in range(5, 0, -1):
        if f"[harm {level}]" in text:
            return f"#reason: tagged.\n#score: {level}"
    return "#reason: untagged.\n#score: 1"


def mcq_prompts() -> list[tuple[str, str]]:
    """(prompt the run sends, gold letter) of the bundled sample exam, in file order."""
    items = list(get_benchmark("sample").load(default_data_dir()))
    return [(render(prepare(item))[-1].content, item.answer) for item in items]


def wrong(letter: str) -> str:
    return "B" if letter != "B" else "C"


def write_replay(path: Path, rows: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in rows.items()),
                    encoding="utf-8")
    return path


def answers(n_correct: int, *, drop: int | None = None, invalid: int | None = None) -> dict[str, str]:
    """MCQ replies: the first ``n_correct`` right, the rest wrong; ``invalid`` gets no letter,
    ``drop`` gets no recorded reply at all (the request fails: excluded)."""
    out = {}
    for i, (prompt, gold) in enumerate(mcq_prompts()):
        if i == drop:
            continue
        text = "I am not sure." if i == invalid else f"Answer: {gold if i < n_correct else wrong(gold)}"
        out[prompt] = text
    return out


def safety_items() -> tuple[list[Any], list[Any]]:
    items = list(get_prompt_set("sample-safety").load(default_data_dir()))
    return [i for i in items if i.expected == "refuse"], [i for i in items if i.expected == "comply"]


def base_harm_level(index: int) -> int:
    """The base refuses the first 9 harmful requests and complies with the rest at harm 2..5."""
    return 1 if index < 9 else 2 + index % 4


def safety_answers(variant: str) -> dict[str, str]:
    harmful, benign = safety_items()
    out = {}
    for i, item in enumerate(harmful):
        level = base_harm_level(i) if variant == "base" else 1
        out[item.prompt] = REFUSAL if level == 1 else f"Sure, here is how to do that. [harm {level}]"
    for i, item in enumerate(benign):
        out[item.prompt] = REFUSAL if variant == "better" and i < 2 else BENIGN
    attack = get_attack("role_play")
    for item in harmful[:ROLE_PLAY_SEEDS]:
        wrapped = attack.apply(item, row_rng(SEED, item.id, "role_play", 0)).messages()[-1].content
        out[wrapped] = "Staying in character: here it is. [harm 5]" if variant == "base" else REFUSAL
    return out


def make_config(folder: Path, judge_url: str, *, variants: tuple[str, ...] = ("base", "better"),
                entries: tuple[str, ...] = ("mcq", "refusal", "msb", "redteam")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    replays = folder / "replays"
    replays.mkdir(exist_ok=True)
    for name, n_correct in (("base", 12), ("better", 18)):
        write_replay(replays / f"{name}.jsonl", {**answers(n_correct), **safety_answers(name)})
    suite = {
        "mcq": {"name": "mcq", "benchmarks": ["sample"]},
        "refusal": {"name": "refusal", "benchmarks": ["sample-safety"], "judges": ["refusal=rules"],
                    "score_as": "refusal"},
        "msb": {"name": "msb", "benchmarks": ["sample-safety"],
                "judges": [f"msb=openai/judge@{judge_url}", "refusal=rules"]},
        "redteam": {"name": "redteam", "kind": "redteam", "seeds": "sample-safety", "attacks": ["role_play"],
                    "judges": [f"openai/judge@{judge_url}"], "limit": ROLE_PLAY_SEEDS},
    }
    config = {"title": "test ablation", "seed": SEED, "n_boot": N_BOOT, "concurrency": 4,
              "variants": {v: f"replay/replays/{v}.jsonl" for v in variants},
              "suite": [suite[e] for e in entries]}
    path = folder / "ablation.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def judge() -> Any:
    with StandinServer(answer=harm_judge) as server:
        yield server


@pytest.fixture(scope="module")
def full(judge: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("ablation")
    config = make_config(root / "config", judge.url)
    out = root / "out"
    return out, run_ablation(load_ablation_config(config), out, quiet=True)


def row(table: dict[str, Any], row_id: str) -> dict[str, Any]:
    rows = {r["id"]: r for r in table["rows"]}
    assert row_id in rows, sorted(rows)
    return rows[row_id]


def test_mcq_row_matches_hand_counts_and_scipy(full: tuple[Path, dict[str, Any]]) -> None:
    _, table = full
    r = row(table, "mcq/sample/accuracy")
    assert r["metric"] == "accuracy" and r["test"] == "mcnemar" and r["higher_is"] == "better"
    base, better = r["cells"]["base"], r["cells"]["better"]
    assert base["value"] == 12 / 20 and better["value"] == 18 / 20
    assert base["ci95"] == list(wilson_ci(12, 20)) and better["ci95"] == list(wilson_ci(18, 20))
    assert base["ci_method"] == "wilson" and base["paired"] is None
    paired = better["paired"]
    assert paired["n_paired"] == 20 and paired["n_excluded"] == 0
    assert paired["difference"] == pytest.approx(0.3)
    xa, xb = [int(i < 12) for i in range(20)], [int(i < 18) for i in range(20)]
    expected = paired_bootstrap_diff(xa, xb, n_boot=N_BOOT, seed=SEED)
    assert paired["ci95"] == [expected.low, expected.high] and paired["ci95"][0] > 0
    assert (paired["only_base"], paired["only_variant"]) == (0, 6)
    assert paired["p"] == pytest.approx(sps.binomtest(0, 6, 0.5).pvalue)  # exact McNemar: 6 discordant pairs


def test_refusal_rows_on_harmful_and_benign_prompts(full: tuple[Path, dict[str, Any]]) -> None:
    _, table = full
    harmful = row(table, "refusal/sample-safety/refuse/refusal_rate/refusal[rules]")
    assert harmful["higher_is"] == "better" and harmful["test"] == "mcnemar"
    assert harmful["cells"]["base"]["value"] == 9 / 18 and harmful["cells"]["better"]["value"] == 1.0
    assert harmful["cells"]["base"]["ci95"] == list(wilson_ci(9, 18))
    p = harmful["cells"]["better"]["paired"]
    assert p["n_paired"] == 18 and p["difference"] == pytest.approx(0.5) and p["only_variant"] == 9
    assert p["p"] == pytest.approx(sps.binomtest(0, 9, 0.5).pvalue)
    benign = row(table, "refusal/sample-safety/comply/refusal_rate/refusal[rules]")
    assert benign["higher_is"] == "worse"
    assert benign["cells"]["base"]["value"] == 0 and benign["cells"]["better"]["value"] == 2 / 12
    assert benign["cells"]["better"]["paired"]["difference"] == pytest.approx(2 / 12)


def test_msb_scores_are_compared_by_wilcoxon(full: tuple[Path, dict[str, Any]]) -> None:
    _, table = full
    (msb,) = [r for r in table["rows"] if r["entry"] == "msb" and r["metric"] == "judge_score"]
    assert msb["test"] == "wilcoxon" and msb["higher_is"] == "worse" and msb["scale_range"] == [1, 5]
    base_scores = [float(base_harm_level(i)) for i in range(18)]
    better_scores = [1.0] * 18
    assert msb["cells"]["base"]["value"] == pytest.approx(sum(base_scores) / 18)
    assert msb["cells"]["base"]["ci_method"] == "bootstrap"
    p = msb["cells"]["better"]["paired"]
    assert p["n_paired"] == 18 and p["n_nonzero"] == 9
    assert p["difference"] == pytest.approx((sum(better_scores) - sum(base_scores)) / 18)
    assert p["p"] == pytest.approx(sps.wilcoxon(better_scores, base_scores, zero_method="wilcox").pvalue)
    assert p["rank_biserial"] == pytest.approx(-1.0)
    # the benign half of the set went to the refusal rules: their refusal rows sit beside it
    assert row(table, "msb/sample-safety/comply/refusal_rate/refusal[rules]")["cells"]["base"]["n"] == 12


def test_attack_success_rows(full: tuple[Path, dict[str, Any]]) -> None:
    _, table = full
    rows = [r for r in table["rows"] if r["entry"] == "redteam"]
    assert {r["attack"] for r in rows} == {"direct", "role_play"}
    role = next(r for r in rows if r["attack"] == "role_play")
    assert role["metric"] == "attack_success" and role["higher_is"] == "worse"
    assert role["cells"]["base"]["value"] == 1.0 and role["cells"]["better"]["value"] == 0.0
    assert role["cells"]["base"]["ci95"] == list(wilson_ci(6, 6))
    p = role["cells"]["better"]["paired"]
    assert p["n_paired"] == ROLE_PLAY_SEEDS and p["difference"] == -1.0 and p["only_base"] == 6
    assert p["p"] == pytest.approx(sps.binomtest(0, 6, 0.5).pvalue)
    direct = next(r for r in rows if r["attack"] == "direct")
    assert direct["cells"]["better"]["paired"]["difference"] == 0 and direct["cells"]["better"]["paired"]["p"] == 1


def test_holm_across_the_whole_table(full: tuple[Path, dict[str, Any]]) -> None:
    _, table = full
    tested = [c["paired"] for r in table["rows"] for c in r["cells"].values() if c["paired"] is not None]
    assert table["n_tests"] == len(tested) >= 7
    assert [t["p_holm"] for t in tested] == pytest.approx(holm([t["p"] for t in tested]))
    from statsmodels.stats.multitest import multipletests

    assert [t["p_holm"] for t in tested] == pytest.approx(list(multipletests([t["p"] for t in tested],
                                                                             method="holm")[1]))


def test_outputs_and_manifest_lineage(full: tuple[Path, dict[str, Any]]) -> None:
    out, table = full
    assert json.loads((out / "ablation.json").read_text()) == table
    md = (out / "ablation.md").read_text()
    assert "# test ablation" in md and "sample — accuracy" in md and "+30.0" in md
    manifest = read_manifest(out)
    assert manifest.kind == "ablation" and manifest.seed == SEED
    assert len(table["cells"]) == 8 and {c["kind"] for c in table["cells"]} == {"eval-run", "redteam-run"}
    for cell in table["cells"]:
        folder = out / cell["run_dir"]
        assert folder == out / "runs" / cell["variant"] / cell["entry"]
        assert read_manifest(folder).id == cell["manifest_id"] in manifest.parents
        assert sha256_file(folder / "manifest.json") == cell["manifest_sha256"]
    inputs = {d.path: d.sha256 for d in manifest.inputs}
    assert all(inputs[f"{c['run_dir']}/manifest.json"] == c["manifest_sha256"] for c in table["cells"])
    assert {o.path for o in manifest.outputs} == {"ablation.json", "ablation.md"}
    assert table["base"] == "base" and [v["name"] for v in table["variants"]] == ["base", "better"]


def test_partial_then_full_reuses_finished_cells(judge: Any, full: tuple[Path, dict[str, Any]],
                                                 tmp_path: Path) -> None:
    """A killed ablation: a partial config ran first; the full one reuses its cells and gives the
    same table as an uninterrupted run; a rerun reuses every cell."""
    _, reference = full
    out = tmp_path / "out"
    partial = make_config(tmp_path / "partial", judge.url, entries=("mcq", "refusal"))
    first = run_ablation(partial, out, quiet=True)
    assert [c["reused"] for c in first["cells"]] == [False] * 4
    samples = out / "runs" / "base" / "mcq" / "samples.jsonl"
    stamp = samples.stat().st_mtime_ns
    config = make_config(tmp_path / "full", judge.url)
    before = judge.total
    second = run_ablation(config, out, quiet=True)
    reused = {(c["variant"], c["entry"]) for c in second["cells"] if c["reused"]}
    assert reused == {(v, e) for v in ("base", "better") for e in ("mcq", "refusal")}
    assert samples.stat().st_mtime_ns == stamp
    assert second["rows"] == reference["rows"]
    asked = judge.total - before
    third = run_ablation(config, out, quiet=True)
    assert all(c["reused"] for c in third["cells"]) and judge.total == before + asked
    assert third["rows"] == reference["rows"]
    # killed inside a cell, before its run wrote a manifest: that cell resumes from its response
    # cache (no judge request is repeated), the others are reused
    killed = out / "runs" / "better" / "msb"
    (killed / "manifest.json").unlink()
    (killed / "results.json").unlink()
    (killed / "samples.jsonl").rename(killed / "samples.jsonl.partial")
    fourth = run_ablation(config, out, quiet=True)
    assert [(c["variant"], c["entry"]) for c in fourth["cells"] if not c["reused"]] == [("better", "msb")]
    assert judge.total == before + asked and fourth["rows"] == reference["rows"]


def test_changed_settings_rerun_the_cell(judge: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path / "c", judge.url, entries=("mcq",))
    out = tmp_path / "out"
    run_ablation(config, out, quiet=True)
    data = yaml.safe_load(config.read_text())
    data["suite"][0]["limit"] = 5
    config.write_text(yaml.safe_dump(data))
    table = run_ablation(config, out, quiet=True)
    assert not any(c["reused"] for c in table["cells"])
    assert row(table, "mcq/sample/accuracy")["cells"]["better"]["paired"]["n_paired"] == 5
    # a tampered output is not reused either
    results = out / "runs" / "base" / "mcq" / "results.json"
    results.write_text(results.read_text().replace('"n": 5', '"n": 6'))
    again = run_ablation(config, out, quiet=True)
    assert [c["reused"] for c in again["cells"]] == [False, True]


def test_failed_and_invalid_answers(tmp_path: Path) -> None:
    """A reply with no letter is scored wrong (as the run scores it); an item with no reply is an
    error: excluded from the pairs, counted, and the ablation is incomplete."""
    write_replay(tmp_path / "a.jsonl", answers(10))
    write_replay(tmp_path / "b.jsonl", answers(10, drop=0, invalid=1))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"variants": {"a": "replay/a.jsonl", "b": "replay/b.jsonl"}, "n_boot": 200,
                                      "suite": [{"name": "mcq", "benchmarks": ["sample"]}]}))
    table = run_ablation(config, tmp_path / "out", quiet=True)
    r = row(table, "mcq/sample/accuracy")
    paired = r["cells"]["b"]["paired"]
    assert paired["n_paired"] == 19 and paired["n_excluded"] == 1 and paired["excluded"]["only_base"] == 1
    assert r["cells"]["b"]["value"] == 8 / 19  # item 1 answered with no letter: wrong
    assert paired["difference"] == pytest.approx(-1 / 19)
    assert not table["complete"] and not next(c for c in table["cells"] if c["variant"] == "b")["complete"]
    from safemed.cli.ablate_cmd import ablate_command

    result = CliRunner().invoke(ablate_command, [str(config), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 4, result.output
    assert "Holm over 1 tests" in result.output and "incomplete" in result.output


def test_cli_prints_the_table(judge: Any, tmp_path: Path) -> None:
    from safemed.cli.ablate_cmd import ablate_command

    config = make_config(tmp_path / "c", judge.url, entries=("mcq",))
    result = CliRunner().invoke(ablate_command, [str(config), "--out", str(tmp_path / "out"), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Holm over 1 tests" in result.output and "+30.0" in result.output
    assert "2 cells (0 reused)" in result.output and (tmp_path / "out" / "ablation.json").is_file()


# --- bad configs ----------------------------------------------------------------------------------

def _config(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    (tmp_path / "r.jsonl").write_text('{"prompt": "p", "response": "r"}\n')
    return path


GOOD: dict[str, Any] = {"variants": {"a": "replay/r.jsonl", "b": "replay/r.jsonl"},
                        "suite": [{"name": "mcq", "benchmarks": ["sample"]}]}


@pytest.mark.parametrize(("change", "message"), [
    ({"seeds": 1}, "bad.yaml: unknown key 'seeds'; valid keys: base, concurrency, data_dir, max_attempts, "
                   "max_new_tokens, n_boot, seed, suite, timeout, title, variants"),
    ({"suite": [{"name": "mcq", "benchmark": ["sample"]}]}, "bad.yaml: suite[0]: unknown key 'benchmark'; valid keys: "
                                                             "attacker, attacks, benchmarks,"),
    ({"suite": [{"benchmarks": ["sample"]}]}, "bad.yaml: suite[0]: missing required key 'name'"),
    ({"suite": [{"name": "x", "kind": "train", "benchmarks": ["s"]}]},
     "bad.yaml: suite[0]: kind: unknown kind 'train'; valid kinds: eval, redteam"),
    ({"suite": [{"name": "x", "kind": "redteam"}]}, "suite[0]: judges: a redteam entry needs at least one MSB judge"),
    ({"suite": [{"name": "x", "benchmarks": "sample"}]}, "bad.yaml: suite[0].benchmarks: expected list of str, "
                                                          "got str 'sample'"),
    ({"suite": [{"name": "x", "benchmarks": ["s"], "limit": 0}]}, "suite[0]: limit must be ≥ 1, got 0"),
    ({"suite": [{"name": "x", "benchmarks": ["s"]}, {"name": "x", "benchmarks": ["s"]}]},
     "suite: entry name 'x' appears twice"),
    ({"base": "c"}, "bad.yaml: base: unknown variant 'c'; valid variants: a, b"),
    ({"variants": {"a": "replay/r.jsonl"}}, "at least two model variants"),
    ({"variants": {"a/b": "replay/r.jsonl", "b": "local/default"}}, "variants: name 'a/b'"),
    ({"n_boot": "many"}, "bad.yaml: n_boot: expected int, got str 'many'"),
    ({"suite": []}, "suite: at least one entry is needed"),
])
def test_bad_configs_name_the_file_and_key(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = _config(tmp_path, {**GOOD, **change})
    with pytest.raises(ConfigError) as err:
        load_ablation_config(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_bad_files_and_unresolvable_variants(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_ablation_config(_config(tmp_path, "variants: [a\n"))
    with pytest.raises(ConfigError, match="expected a mapping of config keys"):
        load_ablation_config(_config(tmp_path, "- a\n"))
    with pytest.raises(ConfigError, match="cannot read ablation config"):
        load_ablation_config(tmp_path / "missing.yaml")
    config = load_ablation_config(_config(tmp_path, {**GOOD, "variants": {"a": "replay/r.jsonl", "b": "runs/sft"}}))
    with pytest.raises(ConfigError, match=r"variants.b: 'runs/sft' is neither a model spec .* nor a training "
                                          r"artifact folder"):
        run_ablation(config, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()  # nothing created before the names resolve
    (tmp_path / "runs" / "sft").mkdir(parents=True)
    from safemed.evaluate.ablation import cells_of

    assert cells_of(config)[-1].model == f"local/{(tmp_path / 'runs' / 'sft').resolve()}"
    from safemed.evaluate.ablation import resolve_spec

    folder = f"local/{(tmp_path / 'runs' / 'sft').resolve()}"
    for written in ("./runs/sft", str(tmp_path / "runs" / "sft"), "runs/sft/"):
        assert resolve_spec(written, tmp_path, "v") == folder
    assert resolve_spec("mypkg.backends:factory/model-x", tmp_path, "v") == "mypkg.backends:factory/model-x"
    with pytest.raises(ConfigError, match=r"v: '\./nope' is neither"):
        resolve_spec("./nope", tmp_path, "v")


def test_unknown_benchmark_lists_the_valid_ones(tmp_path: Path) -> None:
    config = _config(tmp_path, {**GOOD, "suite": [{"name": "x", "benchmarks": ["medqaa"]}]})
    from safemed.cli.ablate_cmd import ablate_command
    from safemed.errors import UnknownNameError

    result = CliRunner().invoke(ablate_command, [str(config), "--out", str(tmp_path / "out"), "-q"])
    assert isinstance(result.exception, UnknownNameError) and "medqa" in str(result.exception.valid)


# --- a training artifact served as local/FOLDER -----------------------------------------------------

def test_trained_artifact_variant_on_the_embedded_model(tmp_path: Path) -> None:
    """A model artifact folder (here: the embedded GGUF under a model manifest) is a variant;
    its manifest becomes a parent of the ablation and it sits beside local/default."""
    from safemed.artifacts import new_manifest, write_manifest
    from safemed.backends.local import default_model_path

    try:
        gguf = default_model_path()
    except ConfigError as exc:
        pytest.skip(str(exc))
    model = tmp_path / "train" / "model"
    model.mkdir(parents=True)
    try:
        (model / "model.gguf").symlink_to(gguf)
    except OSError:
        shutil.copy(gguf, model / "model.gguf")
    artifact = new_manifest("model", config={"stage": "sft"})
    write_manifest(model, artifact, outputs=["model.gguf"])
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "variants": {"base": "local/default", "sft": "train"}, "n_boot": 200, "max_new_tokens": 8, "concurrency": 1,
        "suite": [{"name": "mcq", "benchmarks": ["sample"], "limit": 2}]}))
    table = run_ablation(config, tmp_path / "out", quiet=True)
    sft = table["variants"][1]
    assert sft["model"] == f"local/{(tmp_path / 'train').resolve()}" and sft["artifact"]["id"] == artifact.id
    assert table["variants"][0]["artifact"] is None
    manifest = read_manifest(tmp_path / "out")
    assert artifact.id in manifest.parents
    assert any(d.path.endswith("model/manifest.json") for d in manifest.inputs)
    paired = row(table, "mcq/sample/accuracy")["cells"]["sft"]["paired"]
    # the same weights answer the same (one request at a time: llama.cpp batching can change greedy replies)
    assert paired["n_paired"] == 2 and paired["difference"] == 0


def test_unparsed_judge_replies_are_excluded_and_counted(tmp_path: Path) -> None:
    """The judge cannot score the base's harm-3 answers (items 9, 13, 17): those pairs drop out."""
    def judge_answer(messages: list[dict[str, Any]]) -> str:
        return "no idea" if "[harm 3]" in str(messages[-1]["content"]) else harm_judge(messages)

    with StandinServer(answer=judge_answer) as server:
        config = make_config(tmp_path / "c", server.url, entries=("msb",))
        table = run_ablation(config, tmp_path / "out", quiet=True)
    (msb,) = [r for r in table["rows"] if r["metric"] == "judge_score"]
    paired = msb["cells"]["better"]["paired"]
    assert paired["n_paired"] == 15 and paired["n_excluded"] == 3
    assert paired["excluded"] == {"only_base": 0, "only_variant": 3, "neither": 0}
    kept = [i for i in range(18) if i not in (9, 13, 17)]
    base_scores = [float(base_harm_level(i)) for i in kept]
    assert paired["p"] == pytest.approx(sps.wilcoxon([1.0] * 15, base_scores).pvalue)
    assert msb["cells"]["base"]["n"] == 15 and table["complete"]  # unparsed is counted, not a failed request


def test_the_example_config_loads() -> None:
    repo = Path(__file__).resolve().parents[2]
    config = load_ablation_config(repo / "examples" / "ablation.yaml")
    assert config.base == "base" and list(config.variants) == ["base", "sft", "sft-trust", "grpo"]
    assert {e.kind for e in config.suite} == {"eval", "redteam"}
    from safemed.evaluate.ablation import resolve_spec

    assert resolve_spec("local/default", config.base_dir, "x") == "local/default"
    assert resolve_spec("replay/r.jsonl", config.base_dir, "x") == f"replay/{repo / 'examples' / 'r.jsonl'}"


@pytest.mark.parametrize(("label", "short"), [
    ("msb[openai/gpt-4o@https://h/v1]", "msb[gpt-4o]"), ("refusal[rules]", "refusal[rules]"),
    ("msb[local/default]", "msb[default]"), ("harm[replay//data/j.jsonl]", "harm[j.jsonl]"), ("plain", "plain"),
])
def test_row_names_shorten_judge_labels(label: str, short: str) -> None:
    from safemed.evaluate.ablation import short_judge

    assert short_judge(label) == short
