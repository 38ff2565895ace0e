"""Contract tests: one suite per port, run against every implementation (the real adapter and the test fake)."""
