"""`verity eval`: score a golden set in process or against a running server (HTTP), report it, gate it.

run.py scores observations the same way whichever observer (inprocess.py, http.py) gathered them; report.py
and html.py hold report.json and render report.html; gate.py compares a report with a baseline's tolerances.
"""
