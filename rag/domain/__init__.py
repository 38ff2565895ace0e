"""The domain: cards, trust, askers, answers and refusals. No I/O, no framework."""
