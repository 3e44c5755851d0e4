"""The ablation config: which model variants, which suite, which seeds (``safemed ablate CONFIG``).

SafeMed-R1 compares the base model with its aligned versions (§3: +SFT, +trust-weighted SFT,
+GRPO) but reports no ablation; :mod:`safemed.evaluate.ablation` runs one from this config. A
YAML mapping becomes an :class:`AblationConfig`: ``variants`` (name → model spec or training
artifact folder), ``base`` (the variant every other one is compared with; default the first),
``suite`` (a list of :class:`SuiteEntry`: evaluations as ``safemed eval`` runs them, red-team
attacks as ``safemed redteam`` runs them), seeds and sample sizes.

Every key is checked: an unknown key is a :class:`~safemed.errors.ConfigError` naming the file
and where the key sits and listing the valid ones; a wrong type names the expected one. The
checks are written here (a few lines) rather than imported from ``train/``: stages never import
each other (DESIGN.md). Relative paths in the config (``replay/PATH``, ``local/PATH``, artifact
folders, ``mcq:PATH``, ``prompts:PATH``) are relative to the config file's folder.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.configs import build, show
from safemed.errors import ConfigError

#: suite entry kinds: an evaluation run (``safemed eval``) or a red-team run (``safemed redteam``)
ENTRY_KINDS = ("eval", "redteam")
SCORE_AS = ("default", "refusal")
#: backend kinds a variant spec may start with; anything else is a training artifact folder
SPEC_KINDS = ("openai", "local", "replay")
#: variant and suite-entry names become folder names
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(kw_only=True)
class SuiteEntry:
    """One evaluation every variant goes through; its run folder is ``runs/<variant>/<name>``."""

    name: str
    kind: str = "eval"
    #: eval: benchmark and prompt-set names (``safemed benchmarks``), ``mcq:PATH``, ``prompts:PATH``
    benchmarks: list[str] = field(default_factory=list)
    #: ``[KIND=]SPEC`` per judge (a panel when several), as ``safemed eval --judge``
    judges: list[str] = field(default_factory=list)
    score_as: str = "default"
    over_refusal: str = "auto"
    #: redteam: the harmful seed requests (a prompt set or ``prompts:PATH``)
    seeds: str = "med-safety-bench"
    #: redteam: attack names, or ``all`` (template attacks; model ones too with an attacker)
    attacks: list[str] | str = "all"
    attacker: str | None = None
    include_direct: bool = True
    limit: int | None = None
    sample: int | None = None
    #: None: the config's seed
    seed: int | None = None
    max_new_tokens: int | None = None
    temperature: float = 0.0
    shuffle: bool = False
    judge_max_tokens: int = 512
    max_reparse: int = 2

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ConfigError(f"name {self.name!r}: use letters, digits, '.', '_', '+', '-' (it names a folder)")
        if self.kind not in ENTRY_KINDS:
            raise ConfigError(f"kind: unknown kind {self.kind!r}; valid kinds: {', '.join(ENTRY_KINDS)}")
        if self.score_as not in SCORE_AS:
            raise ConfigError(f"score_as: unknown value {self.score_as!r}; valid values: {', '.join(SCORE_AS)}")
        if self.kind == "eval" and not self.benchmarks:
            raise ConfigError("benchmarks: an eval entry needs at least one benchmark")
        if self.kind == "redteam" and not self.judges:
            raise ConfigError("judges: a redteam entry needs at least one MSB judge")
        if self.kind == "redteam" and self.sample is not None:
            raise ConfigError("sample: a redteam entry takes limit (the first N harmful seeds), not sample")
        for key in ("limit", "sample", "max_new_tokens", "judge_max_tokens"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{key} must be ≥ 1, got {value}")
        if self.max_reparse < 0:
            raise ConfigError(f"max_reparse must be ≥ 0, got {self.max_reparse}")

    def attack_spec(self) -> str:
        """The attacks as ``safemed redteam --attacks`` takes them."""
        return self.attacks if isinstance(self.attacks, str) else ",".join(self.attacks)


@dataclass(kw_only=True)
class AblationConfig:
    """Variants × suite; shared seeds, bootstrap size and request settings."""

    #: variant name → model spec (``local/default``, ``openai/NAME@URL``, ``replay/PATH``) or a
    #: training artifact folder (served as ``local/FOLDER``), in table order
    variants: dict[str, str]
    suite: list[SuiteEntry]
    #: the variant the others are compared with (default: the first)
    base: str | None = None
    title: str | None = None
    seed: int = 0
    n_boot: int = 2000
    concurrency: int = 4
    max_attempts: int = 3
    timeout: float = 120.0
    max_new_tokens: int = 512
    #: benchmark data folder (default: $SAFEMED_DATA_DIR or ./data)
    data_dir: str | None = None
    #: where relative paths resolve: the config file's folder (not a YAML key)
    base_dir: Path = field(default_factory=Path.cwd, metadata={"yaml": False})

    def __post_init__(self) -> None:
        if not self.variants:
            raise ConfigError("variants: at least two model variants are needed (a base and one to compare)")
        for name, spec in self.variants.items():
            if not NAME.match(name):
                raise ConfigError(f"variants: name {name!r}: use letters, digits, '.', '_', '+', '-' "
                                  "(it names a folder)")
            if not spec.strip():
                raise ConfigError(f"variants.{name}: empty model spec")
        if len(self.variants) < 2:
            raise ConfigError("variants: at least two model variants are needed (a base and one to compare)")
        if self.base is None:
            self.base = next(iter(self.variants))
        elif self.base not in self.variants:
            raise ConfigError(f"base: unknown variant {self.base!r}; valid variants: {', '.join(self.variants)}")
        if not self.suite:
            raise ConfigError("suite: at least one entry is needed")
        names = [e.name for e in self.suite]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"suite: entry name {dupes[0]!r} appears twice (names must be unique: they name folders)")
        if self.n_boot < 100:
            raise ConfigError(f"n_boot must be ≥ 100, got {self.n_boot}")
        for key in ("concurrency", "max_attempts", "max_new_tokens"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be ≥ 1, got {getattr(self, key)}")
        self.base_dir = Path(self.base_dir)

    @property
    def base_variant(self) -> str:
        assert self.base is not None  # set in __post_init__
        return self.base

    def as_dict(self) -> dict[str, Any]:
        """Every YAML key and its value (for the manifest and ablation.json)."""
        data = dataclasses.asdict(self)
        data.pop("base_dir")
        return data


# --- loading ---------------------------------------------------------------------------------------

def load_ablation_config(path: str | Path) -> AblationConfig:
    """The :class:`AblationConfig` of the YAML file at ``path``; relative paths inside it are
    taken from the file's folder. Every problem is a ConfigError naming the file."""
    import yaml  # type: ignore[import-untyped, unused-ignore]

    file = Path(path)
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read ablation config {file}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{file}: expected a mapping of config keys, got {show(loaded)}")
    config: AblationConfig = build(AblationConfig, loaded, str(file), base_dir=file.resolve().parent)
    return config
