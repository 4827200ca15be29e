"""`preflight watch`: re-run the checks on an interval and serve the latest run as Prometheus metrics."""
