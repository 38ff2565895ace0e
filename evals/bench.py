"""`python -m evals.bench WHAT`, quoted by issues and the CHANGELOG: now `python -m evals.benchmarks.speed WHAT`."""

import runpy

runpy.run_module("evals.benchmarks.speed", run_name="__main__", alter_sys=True)
