"""Artifacts: a folder of data files plus ``manifest.json`` (DESIGN.md, "artifacts + manifests").

A manifest records what the artifact is, the sha256 of every input and output, the ids of the
parent artifacts, the configuration and seed, library versions and the code revision. Manifests
chain into the lineage that the evidence package cites: review → training row → checkpoint →
benchmark number. The helpers here are deliberately plain so any stage can write one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, Field

MANIFEST = "manifest.json"
TRACKED_PACKAGES = ("safemed", "aiohttp", "numpy", "scipy", "pydantic", "xllamacpp", "torch",
                    "transformers", "trl", "peft", "sqlalchemy")


class FileDigest(BaseModel):
    """A file named in a manifest with its size and SHA-256."""

    path: str
    sha256: str
    bytes: int


class Manifest(BaseModel):
    """The manifest of one artifact folder."""

    kind: str
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    safemed_version: str
    command: list[str] = Field(default_factory=list)
    started_at: str
    finished_at: str | None = None
    inputs: list[FileDigest] = Field(default_factory=list)
    outputs: list[FileDigest] = Field(default_factory=list)
    parents: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    python: str = Field(default_factory=lambda: platform.python_version())
    platform: str = Field(default_factory=platform.platform)
    git_revision: str | None = None


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest(path: str | os.PathLike[str], relative_to: Path | None = None) -> FileDigest:
    """A :class:`FileDigest` for one file, named relative to ``relative_to`` when given."""
    p = Path(path)
    name = str(p.relative_to(relative_to)) if relative_to is not None else str(p)
    return FileDigest(path=name, sha256=sha256_file(p), bytes=p.stat().st_size)


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that can change a result (absent ones are skipped)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_revision(start: Path | None = None) -> str | None:
    """The git commit of the safemed source tree (``+dirty`` when modified), or None."""
    where = start or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "") if rev else None


def new_manifest(kind: str, *, config: dict[str, Any] | None = None, seed: int | None = None,
                 inputs: Iterable[str | os.PathLike[str]] = (), parents: Iterable[str] = ()) -> Manifest:
    """Start a manifest for an artifact being produced now."""
    from safemed import __version__

    return Manifest(kind=kind, safemed_version=__version__, command=list(sys.argv), started_at=now_iso(),
                    inputs=[digest(p) for p in inputs], parents=list(parents), config=config or {},
                    seed=seed, versions=package_versions(), git_revision=git_revision())


def write_manifest(folder: str | os.PathLike[str], manifest: Manifest,
                   outputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Finish ``manifest`` (end time, output digests) and write it atomically into ``folder``."""
    root = Path(folder)
    manifest.finished_at = now_iso()
    manifest.outputs = [digest(root / p, relative_to=root) for p in outputs]
    target = root / MANIFEST
    atomic_write_text(target, manifest.model_dump_json(indent=2) + "\n")
    return target


def read_manifest(folder: str | os.PathLike[str]) -> Manifest:
    """Read ``folder/manifest.json``."""
    return Manifest.model_validate_json((Path(folder) / MANIFEST).read_text(encoding="utf-8"))


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """A text file written in pieces that appears at ``path`` only when the block succeeds (a
    reader, an error or a kill -9 sees the old content or none, never a half-written file)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that a reader (or a kill -9) sees either the old or the new content."""
    with atomic_writer(path) as fh:
        fh.write(text)


def atomic_write_json(path: Path, data: Any) -> None:
    """:func:`atomic_write_text` of pretty-printed JSON (UTF-8, non-ASCII kept)."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
