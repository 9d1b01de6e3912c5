"""memd.auth: grants against a simple model, token records, and the registry on real LMDB."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memd._pb.v1 import memory_service_pb2 as pb
from memd.auth.grants import (
    EVERY_ACTION,
    Action,
    Grant,
    action_from_proto,
    actions_from_names,
    actions_to_proto,
    allowed,
    parse_grant,
)
from memd.auth.policy import Guard, rule_of
from memd.auth.registry import TokenRegistry
from memd.auth.tokens import Token, digest, new_secret, token_id
from memd.engine import Engine
from memd.errors import InvalidArgument, PermissionDenied, Unauthenticated
from memd.metrics import Metrics

names = st.text(alphabet="ab:/*x", min_size=1, max_size=8).filter(lambda s: "*" not in s)
patterns = st.one_of(names, names.map(lambda s: s + "*"), st.just("*"))
action_sets = st.integers(1, 15).map(Action)


def model_matches(pattern: str, namespace: str) -> bool:
    """The documented rule, written the obvious way."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return namespace[: len(pattern) - 1] == pattern[:-1]
    return namespace == pattern


@given(patterns, names)
def test_grant_matches_like_the_model(pattern: str, namespace: str) -> None:
    assert Grant(pattern, Action.READ).matches(namespace) == model_matches(pattern, namespace)


@given(st.lists(st.tuples(patterns, action_sets), min_size=1, max_size=5), names)
def test_allowed_is_the_union_of_matching_grants(
    grants: list[tuple[str, Action]], namespace: str
) -> None:
    expected = Action(0)
    for pattern, actions in grants:
        if model_matches(pattern, namespace):
            expected |= actions
    assert allowed([Grant(p, a) for p, a in grants], namespace) == expected


@given(patterns, action_sets)
def test_grant_text_round_trips(pattern: str, actions: Action) -> None:
    grant = Grant(pattern, actions)
    assert parse_grant(str(grant)) == grant


@pytest.mark.parametrize(
    "text", ["", "=read", "a*b=read", "ns=", "ns=fly", "ns", "*x=read", "a\0b=read"]
)
def test_bad_grants_are_invalid_argument(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_grant(text)


def test_proto_actions() -> None:
    assert actions_from_names(["all"]) == EVERY_ACTION
    for action in Action:
        [number] = actions_to_proto(action)
        assert action_from_proto(number) == action
    with pytest.raises(InvalidArgument):
        action_from_proto(0)


def test_token_record_round_trips_and_holds_no_secret() -> None:
    secret = new_secret()
    assert secret.startswith("memd_") and len(secret) == 48
    token = Token(token_id(digest(secret)), "agent", (parse_grant("a/*=read,write"),), 5, 9)
    assert Token.decode(token.encode()) == token
    assert secret.encode() not in token.encode()
    assert digest(secret) == hashlib.sha256(secret.encode()).digest()
    assert token.expired(9) and not token.expired(8)


def test_registry_persists_expires_and_revokes(tmp_path: Path) -> None:
    now = [1_000]
    clock = lambda: now[0]  # noqa: E731
    with Engine(tmp_path / "data") as engine:
        registry = TokenRegistry(engine, clock=clock)
        secret, token = registry.create("agent", [parse_grant("a/*=read")], expires_ms=2_000)
        assert registry.authenticate(secret) == token
        with pytest.raises(InvalidArgument):
            registry.create("late", [parse_grant("a=read")], expires_ms=1_000)
        now[0] = 1_500
        forever, kept = registry.create("kept", [parse_grant("b=write")])
    with Engine(tmp_path / "data") as engine:  # reopened: the tokens came back from LMDB
        registry = TokenRegistry(engine, clock=clock)
        assert [t.id for t in registry.list()] == [token.id, kept.id]
        assert registry.authenticate(forever) == kept
        now[0] = 2_000
        with pytest.raises(Unauthenticated) as err:
            registry.authenticate(secret)
        assert err.value.reason == "expired"
        assert registry.revoke(kept.id) and not registry.revoke(kept.id)
        with pytest.raises(Unauthenticated) as err:
            registry.authenticate(forever)
        assert err.value.reason == "unknown"
        with pytest.raises(Unauthenticated) as err:
            registry.authenticate(None)
        assert err.value.reason == "missing"


def test_admin_token_file(tmp_path: Path) -> None:
    path = tmp_path / "admin.token"
    path.write_text("short\n")
    with Engine(tmp_path / "data") as engine:
        registry = TokenRegistry(engine, str(path))
        with pytest.raises(Unauthenticated):
            registry.authenticate("short")  # too short to be a credential: ignored
        path.write_text("a-long-enough-admin-token\n")
        registry._admin_file._next_check = 0  # type: ignore[union-attr]  # skip the 1 s wait
        admin = registry.authenticate("a-long-enough-admin-token")
        assert admin.grants[0].is_global and admin.grants[0].actions == EVERY_ACTION


class _Context:
    """The one part of a grpc ServicerContext the guard reads."""

    def __init__(self, secret: str) -> None:
        self.metadata = (("user-agent", "test"), ("authorization", f"Bearer {secret}"))

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata


def test_guard_caches_never_outlive_a_revocation(tmp_path: Path) -> None:
    retrieve = "/memd.v1.MemoryService/Retrieve"
    request = pb.RetrieveRequest(namespace="a/x", keys=["k"]).SerializeToString()
    with Engine(tmp_path / "data") as engine:
        registry = TokenRegistry(engine)
        guard = Guard(registry, Metrics())
        secret, token = registry.create("agent", [parse_grant("a/*=read")])
        for _ in range(3):  # the second and third take the cached path
            assert guard.admit(retrieve, rule_of(retrieve), _Context(secret), request) == token
        with pytest.raises(PermissionDenied):
            other = pb.RetrieveRequest(namespace="b/x", keys=["k"]).SerializeToString()
            guard.admit(retrieve, rule_of(retrieve), _Context(secret), other)
        assert registry.revoke(token.id)
        with pytest.raises(Unauthenticated):
            guard.admit(retrieve, rule_of(retrieve), _Context(secret), request)
