"""Trust-weighted SFT: each row's loss weighted by its clinicians' rubric scores (SafeMed-R1's
clinical trust signals, §3, used as a training signal, which TRL does not offer per sample).

**Row weights** (:func:`trust_weight`). A curated row carries ``provenance.mean_scores``: the mean
score per rubric dimension over its reviews, each on the 1–5 scale. With ``m_d`` those means,
``D`` the rubric's dimensions and ``floor`` = ``trust_floor``:

* ``none``:        w = 1
* ``mean``:        w = max(floor, (mean_d m_d − 1) / 4)
* ``min``:         w = max(floor, (min_d m_d − 1) / 4)
* ``correctness``: w = max(floor, (m_c − 1) / 4), m_c the correctness dimension of the row's
  rubric (``medical_correctness`` for clinical items, ``ethical_soundness`` for ethics/safety)

so a row all reviewers scored 5 weighs 1, one scored 3 weighs 0.5, and no reviewed row weighs less
than ``floor``. A row without scores (a public safety demonstration, an unreviewed item) weighs
``unreviewed_weight`` whatever the scheme (1 by default: as much as a perfectly scored row).

**Loss** (:func:`weighted_sft_trainer`, :func:`row_nll`, :func:`weighted_mean`). With ℓ_i the mean
token negative log-likelihood over row i's completion tokens,

    loss = Σ_i w_i · ℓ_i / Σ_i w_i

over the rows of one optimiser step (all micro-batches of a gradient-accumulation step and all
devices: the weight total is counted before the step, as transformers counts tokens), rows with
no completion token left after truncation excluded. This differs from TRL's own SFT loss even
when every w_i = 1: TRL averages over all completion tokens of the batch (Σ_i Σ_t nll_it / Σ_i n_i),
so long rows count more; here every row counts as one example times its weight, whatever its
length. The two agree when all rows have the same number of completion tokens. With
``trust_weighting: none`` the trainer is TRL's own, untouched.

This module imports torch and TRL only inside the functions that need them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

CORRECTNESS_DIMENSIONS = ("medical_correctness", "ethical_soundness")
"""The correctness dimension of the clinical and the ethics/safety rubric."""

WEIGHT_COLUMN = "weight"


class WeightingError(ValueError):
    """The scores needed by a weighting scheme are missing (the caller names file, line, field)."""


def trust_weight(mean_scores: Mapping[str, float] | None, scheme: str, *, floor: float = 0.1,
                 unreviewed: float = 1.0) -> float:
    """The loss weight of a row with these mean rubric scores (see the module docstring).

    >>> trust_weight({"medical_correctness": 5, "clinical_utility": 3}, "mean")
    0.75
    >>> trust_weight({"medical_correctness": 5, "clinical_utility": 3}, "min")
    0.5
    >>> trust_weight({}, "min", unreviewed=0.8)
    0.8
    """
    if scheme == "none":
        return 1.0
    if not mean_scores:
        return float(unreviewed)
    if scheme == "mean":
        score = sum(mean_scores.values()) / len(mean_scores)
    elif scheme == "min":
        score = min(mean_scores.values())
    elif scheme == "correctness":
        dim = next((d for d in CORRECTNESS_DIMENSIONS if d in mean_scores), None)
        if dim is None:
            raise WeightingError(f"no {' or '.join(CORRECTNESS_DIMENSIONS)} score for trust_weighting correctness")
        score = mean_scores[dim]
    else:
        raise WeightingError(f"unknown trust_weighting {scheme!r}")
    return max(float(floor), (float(score) - 1.0) / 4.0)


# --- the loss --------------------------------------------------------------------------------------

def row_nll(log_probs: Any, label_mask: Any) -> tuple[Any, Any]:
    """(ℓ_i per row: mean NLL over its completion tokens, whether the row has any such token) from
    per-token log-probabilities of the labels and the mask of the scored positions, both (batch, T)."""
    mask = label_mask.to(log_probs.dtype)
    counts = mask.sum(dim=1)
    nll = -(log_probs * mask).sum(dim=1) / counts.clamp(min=1)
    return nll, counts > 0


def weighted_mean(row_losses: Any, weights: Any, present: Any, total: Any = None) -> Any:
    """Σ_i w_i·ℓ_i / W: W the given total weight (of the whole optimiser step) or Σ_i w_i of these
    rows; rows not ``present`` (no completion token) count in neither sum."""
    w = weights.to(row_losses.dtype) * present.to(row_losses.dtype)
    denominator = w.sum() if total is None else total
    return (w * row_losses).sum() / denominator.clamp(min=1e-12)


@dataclass
class WeightCollator:
    """Wraps a collator: takes each example's ``weight`` out before the inner collator pads the
    rest, then adds the weights back as a float tensor ``weight`` of shape (batch,)."""

    inner: Any

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        weights = [float(e.get(WEIGHT_COLUMN, 1.0)) for e in examples]
        batch: dict[str, Any] = self.inner([{k: v for k, v in e.items() if k != WEIGHT_COLUMN} for e in examples])
        batch[WEIGHT_COLUMN] = torch.tensor(weights, dtype=torch.float32)
        return batch


def _has_completion(labels: Any) -> Any:
    return (labels[..., 1:] != -100).any(dim=-1)


@functools.cache
def weighted_sft_trainer() -> type[Any]:
    """TRL's ``SFTTrainer`` with the trust-weighted loss (built on first use, so importing this
    module needs no torch). Pass ``data_collator=WeightCollator(...)`` or let it wrap TRL's."""
    import torch
    from trl.trainer.sft_trainer import SFTTrainer

    class WeightedSFTTrainer(SFTTrainer):
        """SFTTrainer whose loss is Σ w_i ℓ_i / Σ w_i (see :mod:`safemed.train.weighting`)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if not isinstance(self.data_collator, WeightCollator):
                self.data_collator = WeightCollator(self.data_collator)
            self._step_weight: Any = None
            self.loss_is_scaled_for_ga = True  # type: ignore[assignment]  # compute_loss divides by the step's weight

        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()  # type: ignore[no-untyped-call]
            columns = cast(list[str], self._signature_columns)
            if WEIGHT_COLUMN not in columns:
                columns.append(WEIGHT_COLUMN)  # or remove_unused_columns drops it

        def get_batch_samples(self, epoch_iterator: Any, num_batches: int, device: Any) -> tuple[list[Any], Any]:
            batches, num_items = super().get_batch_samples(epoch_iterator, num_batches, device)
            total = torch.zeros((), device=device)
            for b in batches:
                total = total + (b[WEIGHT_COLUMN].to(device) * _has_completion(b["labels"]).to(device)).sum()
            if self.args.world_size > 1:
                total = self.accelerator.gather(total.reshape(1)).sum()
            self._step_weight = total
            return batches, num_items

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            weights = inputs.pop(WEIGHT_COLUMN)
            mode = "train" if model.training else "eval"
            inputs["use_cache"] = False
            outputs = model(**inputs, fused_lm_head=True)
            losses, present = row_nll(outputs.log_probs, outputs.label_mask)
            if mode == "train" and self._step_weight is not None:
                # the rows of this micro-batch over the weight of the whole step; DDP then averages across ranks
                loss = weighted_mean(losses, weights, present, self._step_weight) * self.accelerator.num_processes
            else:
                loss = weighted_mean(losses, weights, present)
            num_valid = self.accelerator.gather_for_metrics(outputs.label_mask.sum()).sum()
            num_correct = self.accelerator.gather_for_metrics(outputs.is_top1.sum()).sum()
            self._metrics[mode]["mean_token_accuracy"].append((num_correct / num_valid).item() if num_valid > 0
                                                              else 0.0)
            return (loss, outputs) if return_outputs else loss

    return WeightedSFTTrainer
