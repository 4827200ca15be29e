"""`python -m filot_preflight` runs the CLI."""

from filot_preflight.entry import run

run()
