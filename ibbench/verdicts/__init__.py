"""Whether an estimate should be used: the data checks before estimating (``datachecks``), the
half-sample consistency fit (``reliability``) and the rules that make the verdict (``judgement``)."""
