"""Where suite cells run: this process, a local process pool, or a Slurm cluster through submitit."""
