"""CLI sub-commands; cli.py wires them into one Typer app."""
