"""The one error of `verity eval`: the run cannot be made, and the message says why and what to do."""


class EvalError(Exception):
    """Bad dataset, empty store, unreachable server, unreadable baseline: exit code 2."""
