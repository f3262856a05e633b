"""Reproductions of the paper's figures, with ground truth the paper did not have."""
