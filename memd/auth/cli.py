"""``memd token create|list|revoke``: token administration from the shell.

The commands are gRPC clients of a running daemon's AuthService (the daemon holds the
data directory, and its in-memory registry must see every change at once). They need a
token with ADMIN on "*": ``--token``, ``MEMD_TOKEN``, or the bootstrap admin token file
(``--token-file``, ``MEMD_ADMIN_TOKEN_FILE``).

Exit codes: 0 on success, 1 when the daemon refused or could not be reached (its message
is printed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import grpc

from memd._pb.v1 import auth_service_pb2 as apb
from memd._pb.v1 import auth_service_pb2_grpc as apb_grpc
from memd.auth.grants import action_names, actions_from_proto, actions_to_proto, parse_grant
from memd.client_channel import connection_arguments, open_channel
from memd.config_parse import ConfigError
from memd.config_tables import parse_duration_ms
from memd.errors import InvalidArgument


def add_token_commands(commands: Any) -> None:
    """Add ``memd token ...`` to the ``memd`` subcommands."""
    token = commands.add_parser("token", help="create, list and revoke access tokens")
    conn = argparse.ArgumentParser(add_help=False, parents=[connection_arguments()])
    env = os.environ.get
    conn.add_argument(
        "--token", default=env("MEMD_TOKEN", ""), help="an admin token (env MEMD_TOKEN)"
    )
    conn.add_argument(
        "--token-file",
        default=env("MEMD_ADMIN_TOKEN_FILE", ""),
        help="file holding an admin token (env MEMD_ADMIN_TOKEN_FILE)",
    )
    verbs = token.add_subparsers(dest="verb", required=True, metavar="VERB")
    create = verbs.add_parser("create", parents=[conn], help="make a token; prints its secret once")
    create.add_argument("--label", default="", help="who or what holds the token")
    create.add_argument(
        "--grant",
        action="append",
        required=True,
        metavar="PATTERN=ACTIONS",
        help="e.g. 'team:alpha/*=read,write'; actions: read, write, delete, admin, all; repeatable",
    )
    create.add_argument(
        "--expires-in",
        default="",
        metavar="DURATION",
        help="e.g. 3600s, 90m, 12h, 30d (default: never)",
    )
    verbs.add_parser(
        "list", parents=[conn], help="list tokens (ids, labels, grants; never secrets)"
    )
    revoke = verbs.add_parser("revoke", parents=[conn], help="revoke a token by id")
    revoke.add_argument("id")
    token.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run one ``memd token`` command."""
    try:
        request = _request(args)
        secret = _admin_secret(args)
        channel = open_channel(args)
    except (InvalidArgument, OSError) as exc:
        print(f"memd token: {exc}", file=sys.stderr)
        return 2
    with channel:
        stub = apb_grpc.AuthServiceStub(channel)  # type: ignore[no-untyped-call]
        metadata = [("authorization", f"Bearer {secret}")] if secret else []
        try:
            method = getattr(stub, type(request).__name__.removesuffix("Request"))
            reply = method(request, metadata=metadata, timeout=30)
        except grpc.RpcError as exc:
            print(f"memd token: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    _print(reply)
    return 0


def _request(args: argparse.Namespace) -> Any:
    if args.verb == "create":
        grants = [parse_grant(g) for g in args.grant]
        return apb.CreateTokenRequest(
            label=args.label,
            grants=[
                apb.Grant(namespace=g.pattern, actions=actions_to_proto(g.actions)) for g in grants
            ],
            expires_ms=_expiry(args.expires_in),
        )
    if args.verb == "list":
        return apb.ListTokensRequest()
    return apb.RevokeTokenRequest(id=args.id)


def _expiry(text: str) -> int:
    if not text:
        return 0
    try:
        in_ms = parse_duration_ms(text)  # the durations of the config file
    except ConfigError as exc:
        raise InvalidArgument(f"--expires-in: {exc}") from None
    return time.time_ns() // 1_000_000 + in_ms


def _admin_secret(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as fh:
            return fh.read().strip()
    return ""


def _print(reply: Any) -> None:
    if isinstance(reply, apb.CreateTokenResponse):
        print(reply.token)
        print(f"id {reply.info.id}: {_describe(reply.info)}", file=sys.stderr)
        print("the secret above is shown once; store it now", file=sys.stderr)
    elif isinstance(reply, apb.ListTokensResponse):
        for info in reply.tokens:
            print(f"{info.id}  {_describe(info)}")
    else:
        print("revoked" if reply.revoked else "no token has this id")


def _describe(info: apb.TokenInfo) -> str:
    grants = " ".join(
        f"{g.namespace}={','.join(action_names(actions_from_proto(g.actions)))}"
        for g in info.grants
    )
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(info.expires_ms / 1000))
    label = f"label={info.label!r} " if info.label else ""
    return f"{label}grants: {grants}; expires: {expires if info.expires_ms else 'never'}"
