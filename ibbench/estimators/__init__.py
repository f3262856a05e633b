"""Built-in MI estimators, all in nats: binning, MINE, AA-MINE and the known-noise mixture estimator."""
