"""Which grant each RPC needs, and the check itself: the one place access is decided.

Every method the daemon serves has a row in ``RULES``; a method without one is refused
(fail closed), so a new RPC cannot ship unguarded. The interceptor calls ``Guard`` for
every call, before the handler runs:

1. ``authenticate``: the ``authorization: Bearer`` metadata names a known, unexpired
   token, or the call ends UNAUTHENTICATED;
2. ``authorize``: the request's namespace (decoded the way the engine decodes it, so
   both act on the same value) is covered by a grant with the needed action, or the
   call ends PERMISSION_DENIED. Stream calls are checked message by message;
3. ``redact``: calls over all namespaces (ListNamespaces, Stats without a namespace)
   keep only what the token may see.

A denial says which action on which namespace was missing, which is the caller's own
request; it never reveals whether another tenant's namespace exists.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import grpc

from memd import _core
from memd._pb.v1 import memory_service_pb2 as pb
from memd.auth.grants import MAX_NAMESPACE_BYTES, Action, allowed
from memd.auth.registry import TokenRegistry
from memd.auth.tokens import ADMIN_FILE_ID, Token
from memd.errors import InvalidArgument, PermissionDenied, Unauthenticated
from memd.logs import event
from memd.metrics import Metrics

log = logging.getLogger("memd.auth")


class Scope(enum.Enum):
    """What a call's rule applies to."""

    PUBLIC = "public"  # health and reflection: no token
    NAMESPACE = "namespace"  # the request's namespace
    GLOBAL = "global"  # the whole store: the action on "*"
    NAMESPACE_OR_GLOBAL = "namespace or global"  # a namespace if given, else the store
    VISIBLE = "visible"  # any token; the answer is cut to what it may see
    TRANSFER = "transfer"  # READ (+DELETE to move) on the source, WRITE on the target


@dataclass(frozen=True, slots=True)
class Rule:
    """The action a method needs and on what."""

    action: Action
    scope: Scope
    mask: int = field(init=False)  # int(action): the hot path tests bits, not IntFlags

    def __post_init__(self) -> None:
        object.__setattr__(self, "mask", int(self.action))


_R, _W, _D, _A = Action.READ, Action.WRITE, Action.DELETE, Action.ADMIN
_MEM, _AUTH = "/memd.v1.MemoryService/", "/memd.v1.AuthService/"

RULES: dict[str, Rule] = {
    _MEM + "Store": Rule(_W, Scope.NAMESPACE),
    _MEM + "StoreStream": Rule(_W, Scope.NAMESPACE),
    _MEM + "Retrieve": Rule(_R, Scope.NAMESPACE),
    _MEM + "RetrieveStream": Rule(_R, Scope.NAMESPACE),
    _MEM + "Search": Rule(_R, Scope.NAMESPACE),
    _MEM + "List": Rule(_R, Scope.NAMESPACE),
    _MEM + "Delete": Rule(_D, Scope.NAMESPACE),
    _MEM + "Stats": Rule(_R, Scope.VISIBLE),  # with a namespace: READ on it
    _MEM + "ListNamespaces": Rule(_R, Scope.VISIBLE),
    _MEM + "DropNamespace": Rule(_A, Scope.NAMESPACE),
    _MEM + "RunLifecycle": Rule(_A, Scope.NAMESPACE_OR_GLOBAL),
    _MEM + "Sweep": Rule(_A, Scope.GLOBAL),
    _MEM + "Backup": Rule(_A, Scope.GLOBAL),
    _MEM + "BatchSearch": Rule(_R, Scope.NAMESPACE),  # every query searches that namespace
    _MEM + "Transfer": Rule(_R, Scope.TRANSFER),
    _MEM + "Clear": Rule(_D, Scope.NAMESPACE),
    # Cluster mode only: the placement map names nodes, not memories.
    "/memd.v1.ClusterService/Cluster": Rule(_R, Scope.GLOBAL),
    "/memd.v1.ClusterService/Drain": Rule(_A, Scope.GLOBAL),
    # A Transfer's step (b) across partitions (docs/cluster.md): a store with the
    # transfer's policies into the target, which the request names as its namespace.
    "/memd.v1.ClusterService/TransferIn": Rule(_W, Scope.NAMESPACE),
    # A copy of a whole partition, asked by a node whose log entries were purged.
    "/memd.v1.ClusterService/PartitionSnapshot": Rule(_A, Scope.GLOBAL),
    # How far a follower must apply to answer reads (sequence numbers only).
    "/memd.v1.ClusterService/ReadIndex": Rule(_A, Scope.GLOBAL),
    # Reads a follower counted, for the owner to log (a `touch` entry).
    "/memd.v1.ClusterService/Touch": Rule(_A, Scope.GLOBAL),
    _AUTH + "CreateToken": Rule(_A, Scope.GLOBAL),
    _AUTH + "ListTokens": Rule(_A, Scope.GLOBAL),
    _AUTH + "RevokeToken": Rule(_A, Scope.GLOBAL),
    "/grpc.health.v1.Health/Check": Rule(_R, Scope.PUBLIC),
    "/grpc.health.v1.Health/Watch": Rule(_R, Scope.PUBLIC),
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": Rule(_R, Scope.PUBLIC),
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": Rule(_R, Scope.PUBLIC),
}
"""Full method name -> rule. Methods missing here are refused."""

_REFUSED = Rule(_A, Scope.GLOBAL)
_ALLOWED_CACHE = 65_536
_BEARER = "bearer "


def rule_of(method: str) -> Rule:
    """The rule of a full method name (unknown methods need global admin: fail closed)."""
    return RULES.get(method, _REFUSED)


def namespace_of(request: Any) -> str:
    """The namespace a request names: decoded in Rust for raw (bytes) requests."""
    if isinstance(request, bytes):
        return _core.peek_namespace(request)
    return str(getattr(request, "namespace", ""))


class Guard:
    """Authenticates and authorizes calls against a ``TokenRegistry``.

    Args:
        registry: The tokens.
        metrics: Where denials are counted (``memd_auth_denied_total{reason}``).
    """

    def __init__(self, registry: TokenRegistry, metrics: Metrics) -> None:
        self.registry = registry
        # (token id, namespace) -> the actions allowed there, as an int: matching the
        # grants builds IntFlag objects, which costs more than the rest of the check.
        # A token's grants never change; the map is emptied when a token is revoked (so
        # an id can never be reused under other grants) and when it grows too large.
        self._allowed: dict[tuple[str, str], int] = {}
        # The authorization header a token was last presented with -> the token, so a
        # known caller costs no hashing. Only tokens that cannot expire are kept (and
        # never the admin file's, which rotates); emptied on revocation, like _allowed.
        self._by_header: dict[str, Token] = {}
        self._revocations = registry.revocations
        self._denied = {
            r: metrics.auth_denied.labels(r)
            for r in ("missing", "malformed", "unknown", "expired", "no_grant")
        }

    def admit(self, method: str, rule: Rule, context: grpc.ServicerContext, request: Any) -> Token:
        """Authenticate and authorize one call; returns the caller's token.

        This is the path of every call with auth on, so its common case (a known token,
        a namespace it was already checked against) is two dict lookups and a peek at
        the request's namespace; anything else takes ``authenticate``/``authorize``.
        """
        header = None
        for key, value in context.invocation_metadata():
            if key == "authorization":
                header = value
                break
        if self._revocations != self.registry.revocations:
            self._forget()
        token = self._by_header.get(header) if header is not None else None
        if token is None:
            seen = self.registry.revocations
            token = self.authenticate(method, context)
            if not token.expires_ms and token.id != ADMIN_FILE_ID and header is not None:
                if len(self._by_header) >= _ALLOWED_CACHE:
                    self._by_header.clear()
                self.registry.unless_revoked_since(
                    seen, partial(self._by_header.__setitem__, header, token)
                )
        if rule.scope is Scope.NAMESPACE and type(request) is bytes:
            namespace = _core.peek_namespace(request)
            bits = self._allowed.get((token.id, namespace))
            if bits is None or not bits & rule.mask:
                self.require(method, token, rule.action, namespace)
            return token
        self.authorize(method, rule, token, request)
        return token

    def _forget(self) -> None:
        # The count is read first: a revocation landing during the clear leaves it
        # behind, and the next call clears again.
        current = self.registry.revocations
        self._allowed.clear()
        self._by_header.clear()
        self._revocations = current

    def authenticate(self, method: str, context: grpc.ServicerContext) -> Token:
        """The caller's token; raises Unauthenticated (counted and logged)."""
        secret: str | None = None
        for key, value in context.invocation_metadata():
            if key == "authorization":
                if not isinstance(value, str) or not value[:7].lower() == _BEARER:
                    self._deny(method, "malformed", None, "")
                    raise Unauthenticated(
                        "authorization metadata must be 'Bearer <token>'", "malformed"
                    )
                secret = value[7:].strip()
                break
        try:
            return self.registry.authenticate(secret)
        except Unauthenticated as exc:
            self._deny(method, exc.reason or "unknown", None, "")
            raise

    def authorize(self, method: str, rule: Rule, token: Token, request: Any) -> None:
        """Raise PermissionDenied unless ``token`` may make this request."""
        scope = rule.scope
        if scope is Scope.NAMESPACE or scope is Scope.NAMESPACE_OR_GLOBAL:
            namespace = namespace_of(request)
            if namespace or scope is Scope.NAMESPACE:
                self.require(method, token, rule.action, namespace)
                return
            scope = Scope.GLOBAL
        if scope is Scope.GLOBAL:
            if not _global(token, rule.action):
                self._deny(method, "no_grant", token, "*")
                raise PermissionDenied(
                    f"token {token.id} has no {rule.action.name} grant on '*' (every "
                    "namespace), which this call needs"
                )
        elif scope is Scope.VISIBLE:
            namespace = namespace_of(request)
            if namespace:
                self.require(method, token, rule.action, namespace)
        elif scope is Scope.TRANSFER:
            # Both namespaces are checked: reading the source (and deleting from it, to
            # move) and writing the target are each what the other RPCs would need.
            self.require(method, token, Action.READ, request.namespace)
            if request.move:
                self.require(method, token, Action.DELETE, request.namespace)
            self.require(method, token, Action.WRITE, request.target_namespace)

    def require(self, method: str, token: Token, action: Action, namespace: str) -> None:
        """Raise PermissionDenied unless ``token`` allows ``action`` on ``namespace``.

        A namespace no grant could ever cover (empty, too long, with a NUL) is a malformed
        request, answered as such: its shape reveals nothing about other tenants.
        """
        if self._revocations != self.registry.revocations:
            self._forget()
        bits = self._allowed.get((token.id, namespace))
        if bits is None:
            if not namespace or "\0" in namespace or len(namespace.encode()) > MAX_NAMESPACE_BYTES:
                raise InvalidArgument(
                    "namespace must be a non-empty UTF-8 string of at most "
                    f"{MAX_NAMESPACE_BYTES} bytes without NUL"
                )
            if len(self._allowed) >= _ALLOWED_CACHE:
                self._allowed.clear()
            bits = self._allowed[token.id, namespace] = int(allowed(token.grants, namespace))
        if not bits & int(action):
            self._deny(method, "no_grant", token, namespace)
            raise PermissionDenied(
                f"token {token.id} has no {action.name} grant on namespace {namespace!r}"
            )

    @staticmethod
    def redact(method: str, token: Token, response: Any) -> Any:
        """Cut a response over all namespaces down to what ``token`` may read."""
        if isinstance(response, pb.ListNamespacesResponse):
            if not _global(token, Action.READ):
                visible = [n for n in response.namespaces if allowed(token.grants, n)]
                del response.namespaces[:]
                response.namespaces.extend(visible)
        elif isinstance(response, pb.StatsResponse) and not _global(token, Action.READ):
            visible = [
                s for s in response.namespaces if allowed(token.grants, s.namespace) & Action.READ
            ]
            del response.namespaces[:]
            response.namespaces.extend(visible)
            # Store-wide map usage would tell one tenant how much the others hold.
            response.map_size_bytes = 0
            response.map_used_bytes = 0
        return response

    def _deny(self, method: str, reason: str, token: Token | None, namespace: str) -> None:
        self._denied[reason].inc()
        event(
            log,
            logging.WARNING,
            "denied",
            method=method,
            reason=reason,
            token=token.id if token else "",
            namespace=namespace,
        )


def _global(token: Token, action: Action) -> bool:
    return any(g.is_global and g.actions & action for g in token.grants)
