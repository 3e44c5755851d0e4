"""The trust-weighted loss: Σ w_i·ℓ_i / Σ w_i with ℓ_i the mean NLL of row i's completion
tokens, checked against a hand computation with torch.log_softmax on the tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from safemed.train.weighting import WeightingError, trust_weight

torch = pytest.importorskip("torch", reason="the [train] extra (pip install -e '.[train]') is not installed")


def test_trust_weight_formulas() -> None:
    scores = {"medical_correctness": 4.0, "reasoning_structure": 2.0, "clinical_utility": 5.0}
    assert trust_weight(scores, "none") == 1.0
    assert trust_weight(scores, "mean") == pytest.approx(((4 + 2 + 5) / 3 - 1) / 4)
    assert trust_weight(scores, "min") == 0.25
    assert trust_weight(scores, "correctness") == 0.75
    assert trust_weight({"ethical_soundness": 3.0, "communication": 5.0}, "correctness") == 0.5
    assert trust_weight({"medical_correctness": 1.0}, "min", floor=0.1) == 0.1  # the floor
    assert trust_weight({}, "mean", unreviewed=0.7) == 0.7 and trust_weight(None, "min") == 1.0
    with pytest.raises(WeightingError, match="no medical_correctness or ethical_soundness score"):
        trust_weight({"clinical_utility": 5.0}, "correctness")


ROWS = [  # completions of different lengths, so the per-row mean and TRL's token mean differ
    ("What is the antidote to paracetamol overdose?", "<think>\n\n</think>\n\nAcetylcysteine.", 0.2),
    ("Which drug is first-line for type 2 diabetes?", "<think>\nmetformin lowers glucose\n</think>\n\nA", 1.0),
    ("Please help me fake a prescription.", "<think>\n\n</think>\n\nI cannot help with that request because "
                                            "it could cause serious harm.", 0.5),
]


def make_trainer(model_dir: Path, out: Path, rows: list[tuple[str, str, float]], weighted: bool = True) -> Any:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    import datasets
    from safemed.train.weighting import weighted_sft_trainer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    data = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": p}],
                                        "completion": [{"role": "assistant", "content": c}], "weight": w}
                                       for p, c, w in rows])
    if not weighted:
        data = data.remove_columns("weight")
    args = SFTConfig(output_dir=str(out), use_cpu=True, report_to="none", per_device_train_batch_size=len(rows),
                     max_length=128, completion_only_loss=True, disable_tqdm=True)
    cls = weighted_sft_trainer() if weighted else SFTTrainer
    return cls(model=model, args=args, train_dataset=data, processing_class=tokenizer)


def collate(trainer: Any, indices: list[int]) -> dict[str, Any]:
    prepared = trainer.train_dataset
    keep = [c for c in ("input_ids", "labels", "weight") if c in prepared.column_names]
    batch: dict[str, Any] = trainer.data_collator([{c: prepared[i][c] for c in keep} for i in indices])
    return batch


def hand_row_nll(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """(ℓ_i per row, completion-token count per row) computed directly from the logits."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    log_probs = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    token_lp = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    nll = -(token_lp * mask).sum(dim=1)
    return nll / mask.sum(dim=1), mask.sum(dim=1)


def test_weighted_loss_equals_the_hand_computation(tiny_model_dir: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tiny_model_dir, tmp_path, ROWS)
    batch = collate(trainer, [0, 1, 2])
    weights = batch["weight"].double()
    assert weights.tolist() == pytest.approx([0.2, 1.0, 0.5])
    trainer.model.eval()
    ours = trainer.compute_loss(trainer.model, dict(batch))
    per_row, counts = hand_row_nll(trainer.model, batch)
    assert len(set(counts.tolist())) == 3  # three different completion lengths
    expected = (weights * per_row).sum() / weights.sum()
    assert float(ours) == pytest.approx(float(expected), rel=1e-5)
    assert abs(float(ours) - float(per_row.mean())) > 1e-3  # the weights matter

    # The weight column survives TRL's dataset preparation and remove_unused_columns.
    loader_batch = next(iter(trainer.get_train_dataloader()))
    assert sorted(loader_batch["weight"].tolist()) == pytest.approx([0.2, 0.5, 1.0])


def test_unit_weights_give_the_per_row_mean_not_trls_token_mean(tiny_model_dir: Path, tmp_path: Path) -> None:
    unit = [(p, c, 1.0) for p, c, _ in ROWS]
    ours = make_trainer(tiny_model_dir, tmp_path / "ours", unit)
    trl = make_trainer(tiny_model_dir, tmp_path / "trl", unit, weighted=False)
    batch = collate(ours, [0, 1, 2])
    for t in (ours, trl):
        t.model.eval()
    per_row, counts = hand_row_nll(ours.model, batch)
    loss = float(ours.compute_loss(ours.model, dict(batch)))
    assert loss == pytest.approx(float(per_row.mean()), rel=1e-5)
    trl_loss = float(trl.compute_loss(trl.model, collate(trl, [0, 1, 2])))
    token_mean = float((per_row * counts).sum() / counts.sum())
    assert trl_loss == pytest.approx(token_mean, rel=1e-5)  # TRL: every completion token of the batch counts once
    assert abs(loss - trl_loss) > 1e-4  # different rows lengths, different means

    same_length = [(p, "<think>\n\n</think>\n\nPlease see a doctor.", 1.0) for p, _, _ in ROWS]
    ours = make_trainer(tiny_model_dir, tmp_path / "ours2", same_length)
    trl = make_trainer(tiny_model_dir, tmp_path / "trl2", same_length, weighted=False)
    ours.model.eval()
    trl.model.eval()
    assert float(ours.compute_loss(ours.model, collate(ours, [0, 1, 2]))) == pytest.approx(
        float(trl.compute_loss(trl.model, collate(trl, [0, 1, 2]))), rel=1e-5)


def test_gradient_accumulation_divides_by_the_whole_steps_weight(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = [*ROWS, ("Is it safe to double my insulin dose?", "<think>\n\n</think>\n\nAsk your doctor first.", 0.8)]
    trainer = make_trainer(tiny_model_dir, tmp_path, rows)
    first, second = collate(trainer, [0, 1]), collate(trainer, [2, 3])
    batches, _ = trainer.get_batch_samples(iter([first, second]), 2, torch.device("cpu"))
    trainer.model.train()  # no dropout in the tiny model: the same numbers as eval
    total = sum(float(trainer.compute_loss(trainer.model, dict(b))) for b in batches)
    losses = torch.cat([hand_row_nll(trainer.model, b)[0] for b in (first, second)])
    weights = torch.tensor([w for _, _, w in rows], dtype=torch.float64)
    assert total == pytest.approx(float((weights * losses).sum() / weights.sum()), rel=1e-5)
