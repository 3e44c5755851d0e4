"""Allow ``python -m safemed``."""

from safemed.cli.main import main

main()
