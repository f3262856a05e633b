"""Many cells at once: suites (resumable grids), the fair tuning protocol, and the claims that keep
parallel workers off each other's cells."""
