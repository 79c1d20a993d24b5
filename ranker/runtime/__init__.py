"""Processes: `ranker serve` and its workers, and the `ranker` command line."""
