"""Third-party code used by the benchmarks, vendored unchanged but for noted edits."""
