"""Method code shared by tasks, estimators and trainers: per-coordinate maps of an estimator's pairs
(``preprocess``), the information-plane probe (``infoplane``) and Gaussian-mixture entropies
(``gaussian_mixture``)."""
