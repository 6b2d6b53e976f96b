"""revcast: generate sample data, import exports, run the demo, serve the forecast API, report on the warehouse."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from pathlib import Path

from revcast.settings import SAMPLE_END, SAMPLE_START, settings

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EPILOG = """examples:
  revcast generate --out data/landing --accounts 50 --start 2023-01-01 --end 2023-12-31
  revcast import usage export.csv
  revcast demo
  revcast serve --port 8000
  revcast report --json
  revcast <command> --help   (the arguments of one command)
"""


class CliError(Exception):
    """An expected failure: printed as one line naming the problem, no traceback; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _iso_date(raw: str) -> date:
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {raw!r}: expected YYYY-MM-DD") from None


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {raw!r}: expected a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def _port(raw: str) -> int:
    value = _positive_int(raw)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (1-65535)")
    return value


def _share(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid share {raw!r}: expected a number from 0 to 0.25") from None
    if not 0.0 <= value <= 0.25:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 to 0.25")
    return value


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _progress(console):
    """A live progress bar on a terminal; disabled (nothing drawn) when output is a pipe or a file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


def _generate(args: argparse.Namespace) -> int:
    from rich.table import Table

    from revcast.generate import generate_landing

    if args.start > args.end:
        raise CliError(f"--start {args.start} is after --end {args.end}", code=2)
    console = _console()
    with _progress(console) as bar:
        task = bar.add_task("generating", total=None)

        def step(domain: str, done: int, total: int) -> None:
            bar.update(task, description=f"writing {domain}", completed=done, total=total)
            if bar.disable:
                print(f"[generate] writing {domain} ({done + 1}/{total})", flush=True)

        try:
            summary = generate_landing(
                Path(args.out),
                seed=args.seed,
                accounts=args.accounts,
                start=args.start,
                end=args.end,
                bad_share=args.bad_share,
                profile=args.profile,
                progress=step,
            )
        except OSError as exc:  # the landing zone cannot be written
            raise CliError(str(exc)) from exc
        bar.update(task, description="written", completed=len(summary.files), total=len(summary.files))
    console.print(f"{summary.files_written:,} files written under {args.out}", soft_wrap=True)
    table = Table()
    table.add_column("source")
    table.add_column("rows", justify="right")
    table.add_column("bad rows", justify="right")
    for source, rows in summary.rows.items():
        table.add_row(source, f"{rows:,}", f"{sum(summary.bad_rows.get(source, {}).values()):,}")
    console.print(table)
    return 0


def _import(args: argparse.Namespace) -> int:
    from revcast.importers import import_usage
    from revcast.ingest.core import RawFileError

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    with _console().status(f"splitting {path} into daily partitions ..."):
        try:
            summary = import_usage(path, Path(args.landing))
        except (RawFileError, OSError) as exc:
            raise CliError(str(exc)) from exc
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

    warehouse = Path(settings().warehouse)
    if not warehouse.exists():
        print(
            f"revcast serve: warehouse {warehouse} does not exist yet: forecasts answer 503 until "
            "`revcast demo` (or a materialization) creates it",
            file=sys.stderr,
        )
    serve(host=args.host, port=args.port)
    return 0


def _report(args: argparse.Namespace) -> int:
    import duckdb

    from revcast.warehouse import connect
    from revcast_app.report import build_report, jsonable, render

    path = Path(args.warehouse)
    try:
        con = connect(path, read_only=True, retries=8)
    except FileNotFoundError as exc:
        raise CliError(f"{exc} (`revcast demo` builds one)") from exc
    except duckdb.Error as exc:  # a writer holds the lock, or the file is not a DuckDB database
        raise CliError(f"cannot open warehouse {path}: {exc}") from exc
    try:
        report = build_report(con, path)
    finally:
        con.close()
    if args.json:
        print(json.dumps(jsonable(report), indent=2))
    else:
        render(report, _console())
    return 0


def _commands(args: argparse.Namespace) -> int:
    import pika.exceptions

    from revcast_app.commands import consume, graphql_submit, publish

    try:
        if args.action == "send":
            if not args.payload:
                raise CliError('send needs a JSON payload, e.g. \'{"command": "GlobalForecast", ...}\'', 2)
            try:
                json.loads(args.payload)
            except json.JSONDecodeError as exc:
                raise CliError(f"the payload is not JSON: {exc}", 2) from exc
            publish(args.payload)
            print(f"sent to {settings().command_queue}")
            return 0
        handled = consume(submit=graphql_submit(), max_messages=args.max, idle_timeout_s=args.idle_timeout)
    except pika.exceptions.AMQPConnectionError as exc:
        raise CliError(
            f"cannot reach the AMQP broker set by REVCAST_AMQP_URL ({type(exc).__name__}): is RabbitMQ running?"
        ) from exc
    for h in handled:
        print(f"{h.command_id} {h.status} {h.run_id or h.reason or ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    env = settings()
    parser = argparse.ArgumentParser(
        prog="revcast",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>", title="commands")

    gen = sub.add_parser(
        "generate",
        help="write deterministic sample exports into a landing zone",
        description="Write deterministic sample exports for every domain into a landing zone.",
    )
    gen.add_argument("--out", default=env.landing, help="landing zone root (default: %(default)s)")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default: %(default)s)")
    gen.add_argument(
        "--accounts", type=_positive_int, default=500, help="number of accounts (default: %(default)s)"
    )
    gen.add_argument(
        "--start", type=_iso_date, default=SAMPLE_START, help="first day, YYYY-MM-DD (default: %(default)s)"
    )
    gen.add_argument(
        "--end", type=_iso_date, default=SAMPLE_END, help="last day, YYYY-MM-DD (default: %(default)s)"
    )
    gen.add_argument(
        "--bad-share",
        type=_share,
        default=0.005,
        help="share of deliberately bad rows, 0 to 0.25 (default: %(default)s)",
    )
    gen.add_argument(
        "--profile",
        choices=("kind", "hard"),  # revcast.generate.PROFILES, not imported to keep the CLI fast to start
        default="kind",
        help="kind: smooth demo series; hard: intermittent, concentrated, spiky, shifting invoices and usage",
    )
    gen.set_defaults(func=_generate)

    imp = sub.add_parser(
        "import",
        help="split a monolithic export into daily landing folders",
        description="Split a monolithic export (wide or long usage form) into landing/usage/date=YYYY-MM-DD/.",
    )
    imp.add_argument("source", choices=["usage"], help="what the file holds (usage)")
    imp.add_argument("file", help="the export, CSV (optionally gzipped)")
    imp.add_argument("--landing", default=env.landing, help="landing zone root (default: %(default)s)")
    imp.set_defaults(func=_import)

    demo = sub.add_parser(
        "demo",
        help="generate sample data if needed and materialize every asset",
        description="Generate the sample landing zone if needed, materialize every asset stage by stage into "
        "the warehouse (only what changed on a second run), then print a summary.",
    )
    demo.add_argument(
        "--accounts", type=_positive_int, default=500, help="sample accounts (default: %(default)s)"
    )
    demo.add_argument("--seed", type=int, default=42, help="sample random seed (default: %(default)s)")
    demo.set_defaults(func=_demo)

    serve = sub.add_parser(
        "serve",
        help="serve the forecast API on loopback (OpenAPI at /docs)",
        description="Serve the forecast API: /v1/forecasts/{stream}, /v1/revenue/forecast, /v1/train, /v1/logs.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    serve.add_argument("--port", type=_port, default=8000, help="TCP port (default: %(default)s)")
    serve.set_defaults(func=_serve)

    report = sub.add_parser(
        "report",
        help="summarise tables, quarantine, latest forecasts, champions",
        description="Summarise the warehouse: tables and row counts per schema, quarantined lines per source, "
        "the latest forecasts per stream and the published champions per domain.",
    )
    report.add_argument(
        "--warehouse", default=env.warehouse, help="the DuckDB file, opened read-only (default: %(default)s)"
    )
    report.add_argument("--json", action="store_true", help="print JSON instead of tables")
    report.set_defaults(func=_report)

    cmd = sub.add_parser(
        "commands",
        help="forecast commands over AMQP: consume, or send one payload",
        description="Forecast commands over AMQP (RabbitMQ at REVCAST_AMQP_URL, queue REVCAST_COMMAND_QUEUE).",
    )
    cmd.add_argument("action", choices=["consume", "send"], help="consume the queue, or send one payload")
    cmd.add_argument(
        "payload", nargs="?", help='send: the JSON payload, e.g. \'{"command": "GlobalForecast", ...}\''
    )
    cmd.add_argument("--max", type=_positive_int, default=None, help="consume: stop after this many messages")
    cmd.add_argument(
        "--idle-timeout", type=float, default=None, help="consume: stop after this many idle seconds"
    )
    cmd.set_defaults(func=_commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `revcast` console script: 0 on success, 1 on a failure, 2 on a usage error."""
    try:
        parser = build_parser()
    except ValueError as exc:  # a malformed REVCAST_* variable
        print(f"revcast: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"revcast {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"revcast {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
