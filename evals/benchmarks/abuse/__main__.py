"""`python -m evals.benchmarks.abuse embed|serve|body`: run one benchmark, print its figures as JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from evals.benchmarks import abuse
from evals.benchmarks.abuse.embed import bench_embed
from evals.benchmarks.abuse.load import bench_serve
from evals.benchmarks.abuse.server import bench_body


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m evals.benchmarks.abuse", description=(abuse.__doc__ or "").split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("embed", help="costliest allowed question vs typical ones, embedding only")
    p.add_argument("--threads", type=int, default=None, help="embedder threads (default: all cores)")
    p.add_argument("--before", action="store_true", help="also the 2,000-character questions of before")
    p = sub.add_parser("serve", help="askers' latency against a real server, idle vs under attackers")
    p.add_argument("--askers", type=int, default=4)
    p.add_argument("--attackers", type=int, default=4)
    p.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    p.add_argument("--rounds", type=int, default=2, help="idle and attack phases alternate this many times")
    p.add_argument("--burst", type=float, default=0.0, help="also a phase where each attacker waits S s between")
    p.add_argument("--url", default=None, help="a running server (default: start one over the sample KB)")
    p.add_argument("--env", action="append", default=[], help="K=V setting for the server started here")
    p.add_argument("--before", action="store_true", help="no token limit, no gate, 2,000-character attacks")
    p = sub.add_parser("body", help="large bodies against a real server: what is read, and the memory it takes")
    p.add_argument("--mb", type=int, default=200, help="size of each upload")
    p.add_argument("--parallel", type=int, default=4, help="uploads at once")
    p.add_argument("--env", action="append", default=[], help="K=V setting for the server started here")
    args = parser.parse_args(argv)
    benches = {"embed": lambda: bench_embed(args.threads, args.before), "serve": lambda: bench_serve(args)}
    result = benches.get(args.command, lambda: bench_body(args))()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
