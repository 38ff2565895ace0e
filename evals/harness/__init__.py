"""`verity eval`: score a golden set in process or against a running server (HTTP), report it, gate it.

cli.py parses the arguments; execute.py builds what a run needs and runs it; run.py scores the observations
the same way whichever observer (observing/: in process or HTTP) gathered them, with scoring/ (metrics,
faithfulness, the trade-off curve); reporting/ holds report.json, renders report.html and gates a report on a
stored baseline's tolerances.
"""
