"""A trained base hands its GGUF template on: GRPO on top of an SFT output can still write a
model.gguf, while the manifest never claims the trained weights came from a GGUF."""

from __future__ import annotations

import shutil
from pathlib import Path

from safemed.artifacts import new_manifest, write_manifest
from safemed.train.models import resolve_base


def _trained_copy(tiny: Path, where: Path, base_model: dict[str, object]) -> Path:
    model = where / "out" / "model"
    shutil.copytree(tiny, model)
    manifest = new_manifest("model", config={"stage": "sft", "base_model": base_model})
    write_manifest(model, manifest)
    return where / "out"


def test_trained_base_inherits_the_gguf_template_of_its_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    template = tmp_path / "base.gguf"
    template.write_bytes(b"GGUF")
    out = _trained_copy(tiny_model_dir, tmp_path, {"name": "tiny", "source_gguf": {"path": str(template),
                                                                                    "sha256": "0" * 64}})
    base = resolve_base(str(out))
    assert base.artifact is not None and base.artifact["path"] == str((out / "model").resolve())
    assert base.source_gguf is None  # these weights were trained, not converted
    assert base.gguf_template == template
    assert base.as_dict()["template_gguf"]["path"] == str(template)


def test_a_template_that_is_gone_is_not_handed_on(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = _trained_copy(tiny_model_dir, tmp_path, {"name": "tiny", "source_gguf": {"path": str(tmp_path / "gone.gguf"),
                                                                                    "sha256": "0" * 64}})
    assert resolve_base(f"local/{out}").gguf_template is None
