"""`verity eval`: score a golden set through the pipeline or a running server (being built: issue 6)."""
