"""The ``safemed`` command line (L4): wiring only; each subcommand lives in its own module."""
