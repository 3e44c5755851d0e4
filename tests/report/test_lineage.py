"""`safemed lineage`: a training chain back to ledger events, every hash checked (real ledger)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from safemed.cli.main import cli
from safemed.report import trace_lineage

from ..train.conftest import tiny_model_dir  # noqa: F401 - the session fixture of tests/train
from .helpers import build_curated_export, fabricate_chain, rewrite_export


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(ledger URL, export folder): built once; tests copy the export before changing it."""
    root = tmp_path_factory.mktemp("curated")
    db = str(root / "ledger.db")
    return db, build_curated_export(db, root / "export")


@pytest.fixture
def chain(curated: tuple[str, Path], tmp_path: Path) -> Any:
    export = tmp_path / "export"
    shutil.copytree(curated[1], export)
    return fabricate_chain(tmp_path, export)


def lineage(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["lineage", *args])
    return result.exit_code, result.output


def test_chain_resolves_to_ledger_events(curated: tuple[str, Path], chain: Any) -> None:
    code, out = lineage(str(chain.grpo), "--db", curated[0])
    assert code == 0, out
    assert "FAIL" not in out and "lineage ok" in out
    assert "dataset msb-demonstrations file:" in out and "dataset redteam file:" in out
    assert "ledger events, root matches" in out and "signed checkpoint" in out
    # GRPO run → its model (adapter beside it) → the SFT model it started from → that model's
    # adapter, its base and its datasets → the ledger at the export's tree size
    result = trace_lineage(chain.grpo, db_url=curated[0])
    nodes = [(e.kind, e.path, e.depth) for e in result.entries if not hasattr(e, "ok")]
    assert nodes[:6] == [("training-run", str(chain.grpo), 0), ("model", str(chain.grpo / "model"), 1),
                         ("lora-adapter", str(chain.grpo / "adapter"), 2), ("base-model", str(chain.sft / "model"), 2),
                         ("model", str(chain.sft / "model"), 3), ("lora-adapter", str(chain.sft / "adapter"), 4)]
    assert ("base-model", str(chain.sft.parent / "base"), 4) in nodes
    assert ("dataset", str(chain.export / "sft.jsonl"), 4) in nodes and ("ledger", curated[0], 5) in nodes
    rows = sum(1 for _ in (chain.export / "sft.jsonl").open())
    events = next(c for c in result.checks if c.what == "row events")
    assert events.ok and events.detail.startswith(f"{rows:,} rows → ")


def test_without_ledger_rows_are_counted_not_proved(chain: Any) -> None:
    code, out = lineage(str(chain.sft / "model"))
    assert code == 0, out
    assert "not checked against a ledger" in out


def test_changed_dataset_byte_is_named(curated: tuple[str, Path], chain: Any) -> None:
    data = chain.export / "sft.jsonl"
    raw = bytearray(data.read_bytes())
    raw[10] = ord("X") if raw[10] != ord("X") else ord("Y")
    data.write_bytes(bytes(raw))
    code, out = lineage(str(chain.grpo), "--db", curated[0])
    assert code == 1
    failed = out.split("lineage FAILED")[1]
    assert f"{data}: sha256" in failed
    assert "dataset file vs the model manifest" in failed and "dataset file vs its own manifest" in failed


def test_changed_weights_and_missing_adapter_are_named(chain: Any) -> None:
    (chain.sft / "model" / "model.gguf").write_bytes(b"GGUF swapped")
    shutil.rmtree(chain.sft / "adapter")
    code, out = lineage(str(chain.grpo))
    assert code == 1
    failed = out.split("lineage FAILED")[1]
    assert f"{chain.sft / 'model' / 'model.gguf'}: sha256" in failed
    assert f"{chain.sft / 'adapter'} is not an artifact" in failed


def test_wrong_ledger_root_is_caught(curated: tuple[str, Path], chain: Any, tmp_path: Path) -> None:
    forged = "ab" * 32

    def edit(row: dict[str, Any]) -> None:
        row["provenance"]["ledger"]["root"] = forged

    rewrite_export(chain.export, edit)
    chain = fabricate_chain(tmp_path / "again", chain.export)  # a chain trained on the forged export: hashes agree
    code, out = lineage(str(chain.sft), "--db", curated[0])
    assert code == 1
    failed = out.split("lineage FAILED")[1]
    assert "ledger root: root at tree size" in failed and f"the export records {forged[:12]}" in failed
    assert "signed checkpoint" in failed
    code, out = lineage(str(chain.sft))  # every file hash holds: only the ledger can tell
    assert code == 0, out


def test_row_events_of_another_item_are_caught(curated: tuple[str, Path], chain: Any, tmp_path: Path) -> None:
    def edit(row: dict[str, Any]) -> None:
        prov = row["provenance"]
        if prov["item_id"] == "card-001":
            prov["event_seqs"] = [*prov["event_seqs"][:-1], 0 if prov["event_seqs"][0] != 0 else 1]

    rewrite_export(chain.export, edit)
    chain = fabricate_chain(tmp_path / "again", chain.export)
    code, out = lineage(str(chain.sft), "--db", curated[0], "--json")
    assert code == 1
    assert "item card-001: event" in out and "belongs to item" in out
    assert "missing from the row's event_seqs" in out


@pytest.mark.slow
def test_real_sft_then_eval_resolve_to_the_ledger(curated: tuple[str, Path], tmp_path: Path,
                                                  tiny_model_dir: Path) -> None:  # noqa: F811
    """`safemed train sft` on the tiny model and a real curated export, `safemed eval --model
    local/OUT`, then `safemed lineage` of the eval run: eval run → SFT model → adapter, base
    (the tiny model's weights) and the export → every row's ledger events."""
    yaml = pytest.importorskip("yaml")
    pytest.importorskip("trl", reason="the [train] extra is not installed")
    config = tmp_path / "sft.yaml"
    config.write_text(yaml.safe_dump({
        "model": str(tiny_model_dir), "datasets": [str(curated[1])], "max_steps": 2, "learning_rate": 1e-2,
        "per_device_train_batch_size": 2, "save_steps": 2, "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0,
        "max_length": 256, "torch_threads": 1}))
    out = tmp_path / "sft"
    result = CliRunner().invoke(cli, ["train", "sft", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    code, text = lineage(str(out), "--db", curated[0])
    assert code == 0, text
    assert "ledger events, root matches" in text and f"base model {tiny_model_dir.name}" in text

    run = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["eval", "--model", f"local/{out}", "--benchmark", "sample", "--limit", "1",
                                      "--max-new-tokens", "2", "--out", str(run), "-q"])
    assert result.exit_code == 0, result.output
    code, text = lineage(str(run), "--db", curated[0])
    assert code == 0, text
    assert text.splitlines()[0].startswith("eval-run") and "ok   evaluated model is a parent" in text
    assert "ledger events, root matches" in text
