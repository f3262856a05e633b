"""Reports: tables, verdicts, coverage and figures read from the store; each says when the records
it shows are not current (``currency``).  A report never runs an experiment."""
