"""The store layer: run records and their JSONL store (``results``), atomic writes, a cell's identity
(``cells``), provenance and the source fingerprint that says whether today's code would reproduce a
record (``fingerprint``)."""
