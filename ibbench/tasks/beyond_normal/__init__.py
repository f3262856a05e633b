"""The "Beyond Normal" MI benchmark tasks (Czyz et al., NeurIPS 2023; PyPI benchmark-mi) in torch."""
