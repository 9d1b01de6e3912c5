"""Access control end to end: every method x every kind of caller, against a real daemon.

The table below holds one valid request per RPC of memd.v1.MemoryService and
memd.v1.AuthService, aimed at tenant A's namespace. Each is sent by:

- no token, an expired token, a revoked token: UNAUTHENTICATED;
- tenant B's token (every action, on B's namespaces only): PERMISSION_DENIED, except the
  calls over all namespaces, which succeed but show nothing of A;
- tenant A's token with every action but the one the call needs (for calls over the
  whole store: every action on A's namespaces but none on "*"): PERMISSION_DENIED;
- the admin token: OK.

Every refused call must leave the store as it was. ``test_every_method_has_a_rule``
keeps the table complete: a new RPC without a row (and a rule in memd.auth.policy) fails.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from memd._pb.v1 import auth_service_pb2 as apb
from memd._pb.v1 import auth_service_pb2_grpc as apb_grpc
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc
from memd.auth.policy import RULES

from .daemon import Daemon
from .state import QUIET, snapshot

A, B = "tenant:a/", "tenant:b/"
ALL = ("read", "write", "delete", "admin")
_OK, _UNAUTH, _DENIED = (
    grpc.StatusCode.OK,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
)


@dataclass(frozen=True)
class Case:
    """One RPC: how to call it on namespace ``ns`` and the action it needs."""

    method: str
    needs: str  # read, write, delete, admin, or "admin*" (admin on every namespace)
    call: Callable[[Any, Any, str, list[tuple[str, str]]], Any]
    over_all: bool = False  # answers over all namespaces, cut to what the caller may see


def _unary(name: str, make: Callable[[str], Any]) -> Callable[..., Any]:
    def call(stub: Any, auth: Any, ns: str, md: list[tuple[str, str]]) -> Any:
        return getattr(stub, name)(make(ns), metadata=md, timeout=30)

    return call


def _server_stream(name: str, make: Callable[[str], Any]) -> Callable[..., Any]:
    def call(stub: Any, auth: Any, ns: str, md: list[tuple[str, str]]) -> Any:
        return list(getattr(stub, name)(make(ns), metadata=md, timeout=30))

    return call


def _client_stream(name: str, make: Callable[[str], Any]) -> Callable[..., Any]:
    def call(stub: Any, auth: Any, ns: str, md: list[tuple[str, str]]) -> Any:
        return list(getattr(stub, name)(iter([make(ns)]), metadata=md, timeout=30))

    return call


def _auth(name: str, make: Callable[[str], Any]) -> Callable[..., Any]:
    def call(stub: Any, auth: Any, ns: str, md: list[tuple[str, str]]) -> Any:
        return getattr(auth, name)(make(ns), metadata=md, timeout=30)

    return call


def _memory(ns: str) -> pb.StoreRequest:
    return pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(text="the user likes tea")])


def _transfer(ns: str, move: bool) -> pb.TransferRequest:
    target = ns + ("/moved" if move else "/copy")
    return pb.TransferRequest(
        namespace=ns, target_namespace=target, whole_namespace=True, move=move
    )


CASES = [
    Case("Store", "write", _unary("Store", _memory)),
    Case("StoreStream", "write", _client_stream("StoreStream", _memory)),
    Case(
        "Retrieve",
        "read",
        _unary("Retrieve", lambda ns: pb.RetrieveRequest(namespace=ns, keys=["k"])),
    ),
    Case(
        "RetrieveStream",
        "read",
        _client_stream("RetrieveStream", lambda ns: pb.RetrieveRequest(namespace=ns, keys=["k"])),
    ),
    Case(
        "Search",
        "read",
        _server_stream("Search", lambda ns: pb.SearchRequest(namespace=ns, query="tea")),
    ),
    Case("List", "read", _unary("List", lambda ns: pb.ListRequest(namespace=ns))),
    Case("Stats", "read", _unary("Stats", lambda ns: pb.StatsRequest(namespace=ns))),
    Case(
        "Delete", "delete", _unary("Delete", lambda ns: pb.DeleteRequest(namespace=ns, keys=["k"]))
    ),
    Case(
        "DropNamespace",
        "admin",
        _unary("DropNamespace", lambda ns: pb.DropNamespaceRequest(namespace=ns)),
    ),
    Case(
        "RunLifecycle",
        "admin",
        _unary("RunLifecycle", lambda ns: pb.RunLifecycleRequest(namespace=ns, dry_run=True)),
    ),
    Case(
        "RunLifecycle(all)",
        "admin*",
        _unary("RunLifecycle", lambda ns: pb.RunLifecycleRequest(dry_run=True)),
    ),
    Case("Sweep", "admin*", _unary("Sweep", lambda ns: pb.SweepRequest(max_items=10))),
    Case(
        "Backup",
        "admin*",
        _unary("Backup", lambda ns: pb.BackupRequest(path=f"b-{uuid.uuid4().hex[:8]}")),
    ),
    Case(
        "ListNamespaces",
        "read",
        _unary("ListNamespaces", lambda ns: pb.ListNamespacesRequest()),
        over_all=True,
    ),
    Case("Stats(all)", "read", _unary("Stats", lambda ns: pb.StatsRequest()), over_all=True),
    Case(
        "BatchSearch",
        "read",
        _server_stream(
            "BatchSearch",
            lambda ns: pb.BatchSearchRequest(namespace=ns, queries=[pb.SearchRequest(query="tea")]),
        ),
    ),
    # Transfer needs READ on the source and WRITE on the target (both tenant A's), and to
    # move DELETE on the source: one row per action, each refused without it.
    Case("Transfer", "read", _unary("Transfer", lambda ns: _transfer(ns, move=False))),
    Case("Transfer(target)", "write", _unary("Transfer", lambda ns: _transfer(ns, move=False))),
    Case("Transfer(move)", "delete", _unary("Transfer", lambda ns: _transfer(ns, move=True))),
    Case("Clear", "delete", _unary("Clear", lambda ns: pb.ClearRequest(namespace=ns))),
    Case(
        "CreateToken",
        "admin*",
        _auth(
            "CreateToken",
            lambda ns: apb.CreateTokenRequest(
                label="t", grants=[apb.Grant(namespace=ns, actions=[apb.ACTION_READ])]
            ),
        ),
    ),
    Case("ListTokens", "admin*", _auth("ListTokens", lambda ns: apb.ListTokensRequest())),
    Case(
        "RevokeToken",
        "admin*",
        _auth("RevokeToken", lambda ns: apb.RevokeTokenRequest(id="0" * 16)),
    ),
]
CALLERS = ["none", "expired", "revoked", "tenant_b", "wrong_action", "admin"]


def _code(fn: Callable[[], Any]) -> tuple[grpc.StatusCode, Any]:
    try:
        return _OK, fn()
    except grpc.RpcError as exc:
        return exc.code(), exc.details()


class Tenants:
    """A daemon with auth on, tenant A's seeded namespace and one token per caller kind."""

    def __init__(self, root: Path) -> None:
        self.daemon = Daemon(
            root / "data", *QUIET, "--backup-dir", str(root / "backups"), auth=True
        )
        self.channel = self.daemon.connect(None)
        self.stub = pb_grpc.MemoryServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.auth = apb_grpc.AuthServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.admin = self.daemon.admin_token
        self.ids: dict[str, str] = {}
        self.tokens: dict[str, str] = {
            "tenant_b": self.create([(B + "*", ALL)]),
            "revoked": self.create([("*", ALL)]),
        }
        self.revoke(self.tokens["revoked"])
        now_ms = time.time_ns() // 1_000_000
        self.tokens["expired"] = self.create([("*", ALL)], expires_ms=now_ms + 1_000)
        self._wrong: dict[str, str] = {}
        time.sleep(1.1)

    def create(self, grants: list[tuple[str, tuple[str, ...]]], expires_ms: int = 0) -> str:
        """A new token's secret (made with the admin token)."""
        request = apb.CreateTokenRequest(
            label="caller",
            grants=[
                apb.Grant(
                    namespace=p, actions=[apb.Action.Value(f"ACTION_{a.upper()}") for a in acts]
                )
                for p, acts in grants
            ],
            expires_ms=expires_ms,
        )
        reply = self.auth.CreateToken(request, metadata=self.md(self.admin))
        self.ids[reply.token] = reply.info.id
        return str(reply.token)

    def revoke(self, secret: str) -> bool:
        """Revoke a token made by ``create``."""
        request = apb.RevokeTokenRequest(id=self.ids[secret])
        return bool(self.auth.RevokeToken(request, metadata=self.md(self.admin)).revoked)

    def wrong_action(self, needs: str) -> str:
        """A token of tenant A with every action but ``needs`` (cached per action)."""
        if needs not in self._wrong:
            if needs == "admin*":
                self._wrong[needs] = self.create([(A + "*", ALL)])
            else:
                self._wrong[needs] = self.create([(A + "*", tuple(a for a in ALL if a != needs))])
        return self._wrong[needs]

    def seed(self) -> str:
        """A fresh namespace of tenant A holding one memory."""
        ns = f"{A}{uuid.uuid4().hex[:8]}"
        self.stub.Store(_memory(ns), metadata=self.md(self.admin))
        return ns

    @staticmethod
    def md(token: str | None) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {token}")] if token else []

    def secret(self, caller: str, case: Case) -> str | None:
        if caller == "none":
            return None
        if caller == "admin":
            return self.admin
        if caller == "wrong_action":
            return self.wrong_action(case.needs)
        return self.tokens[caller]


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    t = Tenants(tmp_path_factory.mktemp("isolation"))
    yield t
    t.channel.close()
    t.daemon.close()


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("case", CASES, ids=[c.method for c in CASES])
def test_access(tenants: Tenants, case: Case, caller: str) -> None:
    if caller == "wrong_action" and case.over_all:
        pytest.skip("any grant may list what it covers: there is no wrong action")
    ns = tenants.seed()
    before = snapshot(tenants.daemon, (ns,))
    md = tenants.md(tenants.secret(caller, case))
    code, result = _code(lambda: case.call(tenants.stub, tenants.auth, ns, md))
    if caller in ("none", "expired", "revoked"):
        assert code == _UNAUTH, (code, result)
    elif caller == "admin":
        assert code == _OK, (code, result)
        return
    elif caller == "tenant_b" and case.over_all:
        assert code == _OK, (code, result)
        assert A not in str(result), f"tenant B saw tenant A: {result}"
        if case.method == "Stats(all)":
            assert result.map_used_bytes == 0 and result.map_size_bytes == 0
        return
    else:
        assert code == _DENIED, (code, result)
        assert "has no" in result and (ns in result or "'*'" in result), result
    assert snapshot(tenants.daemon, (ns,)) == before, "a refused call changed the store"


def test_every_method_has_a_rule() -> None:
    for service in (
        pb.DESCRIPTOR.services_by_name["MemoryService"],
        apb.DESCRIPTOR.services_by_name["AuthService"],
    ):
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            assert path in RULES, f"{path} has no access rule in memd.auth.policy.RULES"
            assert any(c.method.split("(")[0] == method.name for c in CASES), path


def test_denial_does_not_reveal_other_namespaces(tenants: Tenants) -> None:
    """Tenant B is refused the same way whether A's namespace exists or not."""
    md = tenants.md(tenants.tokens["tenant_b"])
    existing, missing = tenants.seed(), f"{A}never-{uuid.uuid4().hex[:6]}"
    answers = []
    for ns in (existing, missing):
        code, details = _code(
            lambda ns=ns: tenants.stub.Retrieve(
                pb.RetrieveRequest(namespace=ns, keys=["k"]), metadata=md
            )
        )
        answers.append((code, details.replace(ns, "NS")))
    assert answers[0] == answers[1] and answers[0][0] == _DENIED


def test_revocation_takes_effect_on_the_next_request(tenants: Tenants) -> None:
    secret = tenants.create([(A + "*", ("read",))])
    ns = tenants.seed()
    request = pb.ListRequest(namespace=ns)
    assert len(tenants.stub.List(request, metadata=tenants.md(secret)).memories) == 1
    assert tenants.revoke(secret)
    code, _ = _code(lambda: tenants.stub.List(request, metadata=tenants.md(secret)))
    assert code == _UNAUTH


def test_stream_messages_are_checked_one_by_one(tenants: Tenants) -> None:
    """A StoreStream may not switch to a namespace its token does not cover."""
    secret = tenants.create([(A + "*", ("write",))])
    mine, theirs = f"{A}{uuid.uuid4().hex[:8]}", f"{B}{uuid.uuid4().hex[:8]}"
    calls = iter([_memory(mine), _memory(theirs)])
    acks: list[Any] = []
    with pytest.raises(grpc.RpcError) as err:
        for ack in tenants.stub.StoreStream(calls, metadata=tenants.md(secret)):
            acks.append(ack)
    assert err.value.code() == _DENIED
    assert len(acks) == 1
    names = tenants.stub.ListNamespaces(
        pb.ListNamespacesRequest(), metadata=tenants.md(tenants.admin)
    )
    assert mine in names.namespaces and theirs not in names.namespaces


def test_repeated_namespace_field_is_judged_by_the_value_the_engine_uses(tenants: Tenants) -> None:
    """Protobuf keeps the last of repeated scalar fields; so must the check."""
    secret = tenants.create([(A + "*", ("write",))])
    theirs = f"{B}{uuid.uuid4().hex[:8]}"
    smuggled = (
        pb.StoreRequest(namespace=A + "x").SerializeToString() + _memory(theirs).SerializeToString()
    )
    raw = tenants.channel.unary_unary("/memd.v1.MemoryService/Store")
    code, _ = _code(lambda: raw(smuggled, metadata=tenants.md(secret)))
    assert code == _DENIED


def test_malformed_namespace_is_invalid_argument_not_a_denial(tenants: Tenants) -> None:
    md = tenants.md(tenants.tokens["tenant_b"])
    for ns in ("", "x" * 200, "a\0b"):
        code, _ = _code(lambda ns=ns: tenants.stub.Store(_memory(ns), metadata=md))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (ns[:10], code)
