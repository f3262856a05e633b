"""The running layer: run and suite specs (``specs``), the plugin registry (``plugins``, ``hookspecs``,
``builtin``), the runner that resolves and executes one cell (``runner``), checkpoints, threads,
progress lines and what the hardware computes natively."""
