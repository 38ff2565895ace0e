"""What one sender can cost everyone else (issue 16): the costliest question the limits let through.

    python -m evals.benchmarks.abuse embed [--threads N]
        embedding time of the longest question allowed (VERITY_MAX_QUESTION_TOKENS) made of the costliest
        characters ('é', '退款', combining marks, emoji, ...) against typical questions (the golden set's),
        measured in alternating order; `--before` adds the 2,000-character questions the character limit
        alone used to let through.
    python -m evals.benchmarks.abuse body [--mb 200] [--parallel 4]
        unauthenticated uploads of 200 MB, four at once, to a real `verity serve` with read keys: declared
        (Content-Length) and chunked, and chunked with a key; the status each got, how much the client
        could push before the server closed the connection, and the server's resident memory.
    python -m evals.benchmarks.abuse serve [--askers 4] [--attackers 4] [--seconds 20] [--rounds 2] [--url URL]
        a real `verity serve` over the sample knowledge base (or the server at --url): the askers' latency
        (golden questions, back to back) while nobody else asks, against while the attackers send the
        costliest allowed question back to back (a flood) and, with `--burst S`, one each every S seconds
        (the issue's "four such requests in 40 s"). Phases alternate, `--rounds` times. `--env K=V` passes
        settings to the server; `--before` turns the question limits off and attacks with 2,000 characters.

Absolute times on shared cores are noise; the ratios in one run are the figures.
"""
