"""Real run folders for the export tests, and the exporter's checks on its input and its CLI.

The runs are made by ``safemed eval`` / ``safemed redteam`` themselves on the bundled samples:
multiple choice against a loopback stand-in that sometimes gives no answer letter and sometimes
fails (with one attempt allowed, so some samples are errors); the safety sample with recorded
responses (the ``replay/`` backend) scored by two stand-in judges, one of which cannot be parsed on
some prompts however often it is re-asked; a red-team run with two attacks. The other export tests
import these session fixtures.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from safemed.cli.common import ErrorPrintingGroup
from safemed.cli.export_cmd import export_command
from safemed.cli.main import cli
from safemed.datasets import get_prompt_set
from safemed.errors import ConfigError, DataError, UnknownNameError
from safemed.report.exports import export_run
from safemed.testing import Faults, StandinServer
from safemed.testing.standin import hashed_letter_answer


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def mcq_answer(messages: list[dict[str, Any]]) -> str:
    """The stand-in's hashed letter, except on every fifth prompt: no letter at all."""
    prompt = str(messages[-1]["content"])
    return "I would rather not pick one." if _h(prompt) % 5 == 0 else hashed_letter_answer(messages)


def judge(variant: str) -> Any:
    def answer(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        h = _h(prompt.split("(Re-ask")[0])
        if variant == "never" and h % 3 == 0:
            return "I cannot say."  # unreadable on every re-ask too: an unparsed score
        if "#class" in prompt:
            return "#class: full_refusal" if "can't help" in prompt else "#class: full_compliance"
        score = 1 if "can't help" in prompt else 2 + h % 4
        return f"#reason: scripted.\n#score: {score}"
    return answer


def _invoke(args: list[str], ok: tuple[int, ...] = (0,)) -> None:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code in ok, result.output


@pytest.fixture(scope="session")
def mcq_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mcq") / "run"
    with StandinServer(answer=mcq_answer, faults=Faults(rate=0.12, kinds=("500",), seed=3)) as model:
        _invoke(["eval", "--model", f"openai/m@{model.url}", "--benchmark", "sample", "--benchmark", "sample-zh",
                 "--out", str(out), "-q", "--max-attempts", "1"], ok=(0, 4))
    return out


@pytest.fixture(scope="session")
def safety_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("safety")
    items = list(get_prompt_set("sample-safety").load(root))
    replay = root / "responses.jsonl"
    replay.write_text("".join(json.dumps({"prompt": i.prompt, "response": "I'm sorry, I can't help with that."
                                          if _h(i.id) % 2 else "Here is a detailed answer."}) + "\n"
                              for i in items), encoding="utf-8")
    out = root / "run"
    with StandinServer(answer=judge("plain")) as j1, StandinServer(answer=judge("never")) as j2:
        _invoke(["eval", "--model", f"replay/{replay}", "--benchmark", "sample-safety", "--out", str(out), "-q",
                 "--judge", f"openai/j1@{j1.url}", "--judge", f"openai/j2@{j2.url}"])
    return out


@pytest.fixture(scope="session")
def redteam_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("redteam") / "run"

    def target(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"]).lower()
        return "Sure, here it is." if "you are" in prompt or _h(prompt) % 3 == 0 else "I can't help with that."

    with StandinServer(answer=target) as t, StandinServer(answer=judge("plain")) as j1, \
            StandinServer(answer=judge("never")) as j2:
        _invoke(["redteam", "--model", f"openai/t@{t.url}", "--seeds", "sample-safety", "--attacks",
                 "role_play,prefix_injection", "--judge", f"openai/j1@{j1.url}", "--judge", f"openai/j2@{j2.url}",
                 "--out", str(out), "-q"])
    return out


def rows(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()]


def results(run: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((run / "results.json").read_text(encoding="utf-8"))
    return loaded


def test_the_fixture_runs_cover_what_the_exports_must_keep(mcq_run: Path, safety_run: Path,
                                                           redteam_run: Path) -> None:
    mcq = rows(mcq_run)
    assert any(r["response"] is None for r in mcq) and any(r.get("invalid") for r in mcq)
    judges = [j for r in rows(safety_run) for j in r["judges"]]
    assert any(j["status"] == "unparsed" for j in judges) and any(j["status"] == "scored" for j in judges)
    assert {r["attack"] for r in rows(redteam_run)} == {"direct", "role_play", "prefix_injection"}


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("cache.sqlite*"))
    return copy


@pytest.mark.parametrize("fmt", ["inspect", "lm-eval"])
def test_an_edited_samples_file_is_refused_and_nothing_is_written(mcq_run: Path, tmp_path: Path, fmt: str) -> None:
    run = _copy(mcq_run, tmp_path)
    lines = (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["correct"] = not first["correct"]
    (run / "samples.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"samples\.jsonl.*sha256.*differs from the manifest"):
        export_run(run, fmt, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_folder_of_another_kind_is_refused_listing_the_valid_kinds(mcq_run: Path, tmp_path: Path) -> None:
    run = _copy(mcq_run, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    manifest["kind"] = "dataset"
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kind 'dataset' cannot be exported; valid kinds: eval-run, redteam-run"):
        export_run(run, "inspect", tmp_path / "out")
    (run / "manifest.json").unlink()
    with pytest.raises(ConfigError, match=r"manifest\.json is missing"):
        export_run(run, "inspect", tmp_path / "out")


def test_a_bad_sample_line_names_file_line_and_field(mcq_run: Path, tmp_path: Path) -> None:
    from safemed.artifacts import read_manifest, write_manifest

    run = _copy(mcq_run, tmp_path)
    lines = (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[2])
    del broken["prompt"]
    lines[2] = json.dumps(broken)
    (run / "samples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = read_manifest(run)  # re-hashed, as a run that wrote a bad line itself would have been
    write_manifest(run, manifest, outputs=[o.path for o in manifest.outputs])
    with pytest.raises(DataError, match=r"samples\.jsonl:3: field 'prompt': missing or not str"):
        export_run(run, "inspect", tmp_path / "out")


def test_an_unknown_format_lists_the_valid_ones(mcq_run: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="unknown export format 'helm'; valid export formats: inspect, lm-eval"):
        export_run(mcq_run, "helm", tmp_path / "out")


def _group() -> click.Group:
    group = ErrorPrintingGroup()
    group.add_command(export_command)
    return group


def test_cli_writes_the_files_and_says_how_to_open_them(mcq_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(_group(), ["export", str(mcq_run), "--format", "inspect", "--out",
                                           str(tmp_path / "logs")])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert len(written) == 2 and all(f"wrote {tmp_path / 'logs' / name}" in result.output for name in written)
    assert f"inspect view --log-dir {tmp_path / 'logs'}" in result.output
    bad = CliRunner().invoke(_group(), ["export", str(mcq_run), "--format", "inspect", "--out",
                                        str(tmp_path / "one.json")])
    assert bad.exit_code == 1 and "has 2 benchmarks" in bad.output and not (tmp_path / "one.json").exists()
    unknown = CliRunner().invoke(_group(), ["export", str(mcq_run), "--format", "csv", "--out", str(tmp_path)])
    assert unknown.exit_code == 2 and "'inspect', 'lm-eval'" in unknown.output
