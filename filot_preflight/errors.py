"""Errors for bad input. Every one of them ends the command with one line on stderr and exit code 2."""


class PreflightError(Exception):
    """Invalid input (manifest, env file, flag, URL). The message names the file, line or field."""

    exit_code = 2


class ManifestError(PreflightError):
    """The manifest cannot be read or does not match the schema."""


class EnvFileError(PreflightError):
    """An env file cannot be read or has a malformed line."""


class UsageError(PreflightError):
    """A flag or argument is invalid (unknown checker, bad option value)."""
