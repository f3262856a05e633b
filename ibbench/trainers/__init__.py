"""Built-in trainers: cross-entropy (+ weight decay), layer-wise IB, end-to-end IB."""
