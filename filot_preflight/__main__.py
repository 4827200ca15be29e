"""`python -m filot_preflight` runs the CLI."""

from filot_preflight.cli import run

run()
