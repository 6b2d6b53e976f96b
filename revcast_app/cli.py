"""The `revcast` command: generate sample data, import exports, run the demo, serve the API."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from revcast.settings import SAMPLE_END, SAMPLE_START, settings


def _generate(args: argparse.Namespace) -> int:
    from revcast.generate import generate_landing

    summary = generate_landing(
        Path(args.out),
        seed=args.seed,
        accounts=args.accounts,
        start=date.fromisoformat(args.start),
        end=date.fromisoformat(args.end),
        bad_share=args.bad_share,
        profile=args.profile,
    )
    print(summary)
    return 0


def _import(args: argparse.Namespace) -> int:
    from revcast.importers import import_usage
    from revcast.ingest.core import RawFileError

    if args.source != "usage":
        print(f"revcast import: source {args.source!r} is not supported yet (usage is)", file=sys.stderr)
        return 2
    try:
        summary = import_usage(Path(args.file), Path(args.landing))
    except (RawFileError, FileNotFoundError) as error:
        print(f"revcast import: {error}", file=sys.stderr)
        return 1
    print(
        f"imported {summary.lines} lines into {summary.partitions} daily partition(s) under "
        f"{Path(args.landing) / 'usage'}"
    )
    if summary.unassigned_lines:
        print(
            f"{summary.unassigned_lines} line(s) without a YYYY-MM-DD date kept in {summary.unassigned_file}"
        )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    return run_demo(accounts=args.accounts, seed=args.seed)


def _serve(args: argparse.Namespace) -> int:
    from revcast_app.service.app import serve

    serve(host=args.host, port=args.port)
    return 0


def _commands(args: argparse.Namespace) -> int:
    from revcast_app.commands import consume, graphql_submit, publish

    if args.action == "send":
        publish(args.payload)
        print(f"sent to {settings().command_queue}")
        return 0
    for h in consume(submit=graphql_submit(), max_messages=args.max, idle_timeout_s=args.idle_timeout):
        print(f"{h.command_id} {h.status} {h.run_id or h.reason or ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="revcast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write deterministic sample exports into a landing zone")
    gen.add_argument("--out", default=settings().landing)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--accounts", type=int, default=500)
    gen.add_argument("--start", default=SAMPLE_START.isoformat())
    gen.add_argument("--end", default=SAMPLE_END.isoformat())
    gen.add_argument("--bad-share", type=float, default=0.005, help="share of deliberately bad rows")
    gen.add_argument(
        "--profile",
        choices=("kind", "hard"),  # revcast.generate.PROFILES, not imported to keep the CLI fast to start
        default="kind",
        help="kind: smooth demo series; hard: intermittent, concentrated, spiky, shifting invoices and usage",
    )
    gen.set_defaults(func=_generate)

    imp = sub.add_parser("import", help="split a monolithic export into the landing layout")
    imp.add_argument("source", choices=["usage"])
    imp.add_argument("file")
    imp.add_argument("--landing", default=settings().landing)
    imp.set_defaults(func=_import)

    demo = sub.add_parser("demo", help="generate sample data if needed and materialize every asset")
    demo.add_argument("--accounts", type=int, default=500)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=_demo)

    serve = sub.add_parser("serve", help="serve the revenue forecast API (loopback by default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)

    cmd = sub.add_parser(
        "commands", help="forecast commands over AMQP: consume the queue, or send one payload"
    )
    cmd.add_argument("action", choices=["consume", "send"])
    cmd.add_argument(
        "payload", nargs="?", help='send: the JSON payload, e.g. \'{"command": "GlobalForecast", ...}\''
    )
    cmd.add_argument("--max", type=int, default=None, help="consume: stop after this many messages")
    cmd.add_argument(
        "--idle-timeout", type=float, default=None, help="consume: stop after this many idle seconds"
    )
    cmd.set_defaults(func=_commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `revcast` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
