"""safemed: take a language model through the SafeMed-R1 method with evidence a board can verify.

The package is layered (see DESIGN.md): L0 core (`records`, `errors`, `artifacts`), L1 services
(`backends`, `datasets`, `stats`, …), L2 stages (`evaluate`, …) and the `cli` entry point.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("safemed")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
