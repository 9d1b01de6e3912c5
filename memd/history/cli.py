"""``memd export`` and ``memd import``: history out of and into a running daemon.

Both are gRPC clients of a daemon (``--target``, TLS flags as ``memd health``), with a
token when it requires one (``--token``, ``MEMD_TOKEN``, or ``--token-file``): export
needs READ on the namespaces (and ADMIN on ``*`` to list them all), import WRITE.

Exit codes: 0 done (every record stored, or skipped as already expired); 1 the daemon
refused or failed, or some records were rejected (each is reported); 2 usage error
(bad flag, unreadable file, a checkpoint of another file); 130 interrupted. An
interrupted import resumes when rerun with the same command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import grpc

from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc
from memd.client_channel import connection_arguments, open_channel
from memd.config_parse import TIER_NAMES
from memd.history.checkpoint import CheckpointError
from memd.history.export import ExportFilter, export
from memd.history.import_ import Importer, ImportOptions
from memd.history.jsonl import FormatError
from memd.history.mem0 import Mem0Source
from memd.history.source import JsonlSource, Source, epoch_ms

_PROGRESS = ("auto", "bar", "lines", "none")


def add_history_commands(commands: Any) -> None:
    """Add ``memd export`` and ``memd import`` to the ``memd`` subcommands."""
    common = argparse.ArgumentParser(add_help=False, parents=[connection_arguments()])
    common.add_argument(
        "--token", default=os.environ.get("MEMD_TOKEN", ""), help="access token (env MEMD_TOKEN)"
    )
    common.add_argument("--token-file", default="", help="file holding the access token")
    common.add_argument(
        "--progress",
        choices=_PROGRESS,
        default="auto",
        help="a bar on a terminal, plain lines otherwise (auto, the default), or none",
    )
    exp = commands.add_parser(
        "export",
        parents=[common],
        help="write a daemon's memories as JSON Lines, every field (docs/history.md)",
        description="Write the memories of a running daemon as JSON Lines: one memory per "
        "line with every field, embeddings base64. The same memories give the same file.",
    )
    exp.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    exp.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="export this namespace (repeatable); default: all of them (needs ADMIN)",
    )
    exp.add_argument("--tier", action="append", default=[], choices=TIER_NAMES, help="repeatable")
    for bound in ("after", "before"):
        exp.add_argument(
            f"--created-{bound}",
            type=parse_time,
            default=0,
            metavar="TIME",
            help=f"only memories created {'at or after' if bound == 'after' else 'before'} "
            "TIME: ms since the epoch or ISO 8601 (2026-01-31, 2026-01-31T12:00:00Z; UTC "
            "without a zone)",
        )
    exp.set_defaults(run=run_export)

    imp = commands.add_parser(
        "import",
        parents=[common],
        help="store memories from a memd export or a Mem0 export, keeping their history",
        description="Store the memories of FILE in a running daemon through StoreStream, "
        "with their keys and history. Idempotent by key; resumes after an interruption "
        "when rerun (the checkpoint file is FILE.checkpoint unless --checkpoint).",
    )
    imp.add_argument(
        "file", type=Path, help="a memd export (JSON Lines), or with --from mem0 a Mem0 export"
    )
    imp.add_argument(
        "--from",
        dest="fmt",
        choices=("memd", "mem0"),
        default="memd",
        help="memd (default) or mem0: get_all() output saved as JSON",
    )
    imp.add_argument(
        "--namespace",
        default="",
        help="--from mem0: namespace template with {user_id}, {agent_id}, {run_id}, "
        "{app_id} (default agent:{agent_id}/user:{user_id}/run:{run_id}, present ids only)",
    )
    imp.add_argument("--batch-size", type=_positive, default=1_000, help="memories per batch")
    imp.add_argument(
        "--max-rate", type=float, default=0.0, help="most memories per second (default: no limit)"
    )
    imp.add_argument("--checkpoint", type=Path, default=None, help="default: FILE.checkpoint")
    imp.add_argument("--restart", action="store_true", help="ignore the checkpoint; start over")
    imp.set_defaults(run=run_import)


def parse_time(text: str) -> int:
    """Milliseconds since the epoch, from digits or an ISO 8601 date or time (UTC if naive)."""
    if text.isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not ms since the epoch or ISO 8601") from None
    return epoch_ms(when)


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n}: must be at least 1")
    return n


def _metadata(args: argparse.Namespace) -> list[tuple[str, str]]:
    token = args.token
    if not token and args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
    return [("authorization", f"Bearer {token}")] if token else []


def _failed(command: str, exc: grpc.RpcError, hint: str = "") -> int:
    details = " ".join(str(exc.details()).split())
    print(f"memd {command}: {exc.code().name}: {details}{hint}", file=sys.stderr)
    return 1


def run_export(args: argparse.Namespace) -> int:
    """Run ``memd export``; returns the exit code."""
    tiers = frozenset(TIER_NAMES.index(t) + 1 for t in args.tier)
    flt = ExportFilter(args.namespace, tiers, args.created_after, args.created_before)
    to_file = args.output != "-"
    partial = Path(f"{args.output}.partial")
    try:
        metadata = _metadata(args)
        channel = open_channel(args)
        # Written aside and renamed when complete: a file under the name is whole.
        out = partial.open("w", encoding="utf-8", newline="\n") if to_file else sys.stdout
    except OSError as exc:
        print(f"memd export: {exc}", file=sys.stderr)
        return 2
    if not to_file:
        sys.stdout.reconfigure(encoding="utf-8", newline="\n")  # type: ignore[union-attr]
    code = 0
    with channel:
        stub = pb_grpc.MemoryServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            export(stub, out, flt, metadata=metadata, progress=args.progress)
        except grpc.RpcError as exc:
            code = _failed("export", exc)
        except KeyboardInterrupt:
            code = 130
        finally:
            if to_file:
                out.close()
    if to_file:
        if code == 0:
            os.replace(partial, args.output)
        else:
            partial.unlink(missing_ok=True)
    return code


def run_import(args: argparse.Namespace) -> int:
    """Run ``memd import``; returns the exit code."""
    unit = "line" if args.fmt == "memd" else "item"
    if args.namespace and args.fmt != "mem0":
        print("memd import: --namespace is for --from mem0", file=sys.stderr)
        return 2
    options = ImportOptions(
        batch_size=args.batch_size,
        max_rate=args.max_rate,
        progress=args.progress,
        checkpoint=args.checkpoint or args.file.with_name(args.file.name + ".checkpoint"),
        restart=args.restart,
    )
    try:
        source: Source = (
            JsonlSource(args.file) if args.fmt == "memd" else Mem0Source(args.file, args.namespace)
        )
        metadata = _metadata(args)
        channel = open_channel(args)
    except (OSError, FormatError) as exc:
        print(f"memd import: {exc}", file=sys.stderr)
        return 2
    with channel:
        stub = pb_grpc.MemoryServiceStub(channel)  # type: ignore[no-untyped-call]
        importer = Importer(stub, source, options, metadata=metadata)
        try:
            importer.start(args.file)
        except (CheckpointError, OSError) as exc:
            print(f"memd import: {exc}", file=sys.stderr)
            return 2
        s = importer.state
        if importer.resumed:
            print(
                f"import: resuming {args.file} after {unit} {s.line} ({s.stored} stored "
                "before; --restart starts over)",
                file=sys.stderr,
            )
        try:
            return 0 if importer.run() else 1
        except grpc.RpcError as exc:
            s = importer.state
            hint = f"; {s.stored} stored; rerun the same command to continue after {unit} {s.line}"
            return _failed("import", exc, hint)
        except OSError as exc:  # the file became unreadable midway
            s = importer.state
            print(f"memd import: {exc}; stopped after {unit} {s.line}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            s = importer.state
            print(
                f"memd import: interrupted after {unit} {s.line}; rerun to continue",
                file=sys.stderr,
            )
            return 130
