"""The `preflight` console script and `python -m filot_preflight`: the garbage collector is paused before
the CLI's own imports (see collector.py), then `cli.run`."""


def run() -> None:
    """Pause the collector, import the CLI, run it (cli.run ends the process)."""
    from filot_preflight import collector

    collector.pause()
    from filot_preflight.cli import run as cli_run

    cli_run()
