"""`python -m evals.benchmarks.speed ingest|ask|sync|latency|llm|recording`: run one benchmark, print its figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from evals.benchmarks.speed.ingest import SAMPLE_KB, bench_ingest, bench_sync
from evals.benchmarks.speed.latency import bench_ask, bench_latency
from evals.benchmarks.speed.llm import bench_llm
from evals.benchmarks.speed.recording import bench_recording


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.benchmarks.speed")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("path", nargs="?", default=str(SAMPLE_KB))
    p = sub.add_parser("ask")
    p.add_argument("--rounds", type=int, default=3)
    p = sub.add_parser("sync")
    p.add_argument("--cards", type=int, default=5_000)
    p = sub.add_parser("llm")
    p.add_argument("--llm-url", default=None, help="an OpenAI-compatible endpoint; default: start SmolLM2 locally")
    p.add_argument("--llm-model", default="smollm2")
    p.add_argument("--questions", type=int, default=12)
    p.add_argument("--max-tokens", type=int, default=120)
    p = sub.add_parser("recording")
    p.add_argument("--rounds", type=int, default=4)
    p = sub.add_parser("latency")
    p.add_argument("--chunks", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.what == "ingest":
        result = bench_ingest(Path(args.path))
    elif args.what == "ask":
        result = bench_ask(args.rounds)
    elif args.what == "llm":
        result = bench_llm(args.llm_url, args.llm_model, args.questions, args.max_tokens)
    elif args.what == "recording":
        result = bench_recording(args.rounds)
    elif args.what == "latency":
        result = bench_latency(args.chunks, args.rounds)
    else:
        result = bench_sync(args.cards)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value:,.3f}" if isinstance(value, float) else f"{key:<{width}}  {value:,}")


if __name__ == "__main__":
    main()
