"""The client libraries each kind of probe imports (`Checker.libraries`), by what it reaches.

The runner imports the chosen checkers' libraries before they start (`runner.preload`); the probes
still import them themselves, lazily, so that a command that runs no probe (`--help`, `explain`) stays fast.
"""

AWS = ("boto3", "botocore.session", "botocore.httpsession", "botocore.config", "botocore.exceptions")
HTTP = ("httpx",)
REDIS = ("redis",)
POSTGRES = ("psycopg",)
TEMPORAL = ("temporalio.service",)
# The source audit (not network, but the same concern): secret detection, the JavaScript/TypeScript
# parser, dotenv-safe's .env.example reader.
AUDIT = ("detect_secrets.core.scan", "detect_secrets.settings", "detect_secrets.core.plugins.util",
         "tree_sitter", "tree_sitter_javascript", "tree_sitter_typescript", "dotenv.parser")


def audit_for(source_dirs: object) -> tuple[str, ...]:
    """The audit's libraries when the run has source trees to read (`Options.source_dirs`), else none."""
    return AUDIT if source_dirs else ()
