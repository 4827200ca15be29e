"""Shared pytest configuration: fixture modules registered as plugins (each file owns its fixtures)."""

pytest_plugins = ["tests.sandbox_fixtures", "tests.fixtures_redis_faults", "tests.fixtures_moto", "tests.fixtures_http_faults",
                  "tests.fixtures_pg_faults", "tests.fixtures_r2", "tests.fixtures_faults"]
