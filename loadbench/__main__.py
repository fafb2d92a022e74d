"""`python -m loadbench` runs the command-line interface."""

from __future__ import annotations

from loadbench.cli import main

if __name__ == "__main__":
    main()
