"""safemed: take a language model through the SafeMed-R1 method with evidence a board can verify.

The package is layered (see DESIGN.md): L0 core (`records`, `errors`, `artifacts`), L1 services
(`backends`, `datasets`, `stats`, …), L2 stages (`evaluate`, …) and the `cli` entry point.
``__version__`` is read from the installed package's metadata on first use (importing
``importlib.metadata`` costs tens of ms of every command's start-up otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    __version__: str


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("safemed")
    except PackageNotFoundError:  # running from a source tree without an install
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found


__all__ = ["__version__"]
