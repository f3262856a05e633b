"""The published results (``results/manifest.toml``): checking them against today's code, regenerating
them, canary attestations and re-judging stored verdicts."""
