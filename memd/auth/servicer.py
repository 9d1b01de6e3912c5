"""memd.v1.AuthService handlers: token administration over gRPC.

Access to these methods (ADMIN on "*") is checked by the interceptor like every other
call; the handlers only convert between the proto and ``TokenRegistry``.
"""

from __future__ import annotations

from typing import Any

import grpc

from memd._pb.v1 import auth_service_pb2 as apb
from memd._pb.v1 import auth_service_pb2_grpc as apb_grpc
from memd.auth.grants import Grant, actions_from_proto, actions_to_proto
from memd.auth.registry import TokenRegistry
from memd.auth.tokens import Token
from memd.errors import InvalidArgument

SERVICE_NAME: str = apb.DESCRIPTOR.services_by_name["AuthService"].full_name


def token_info(token: Token) -> apb.TokenInfo:
    """A stored token as the proto shows it."""
    return apb.TokenInfo(
        id=token.id,
        label=token.label,
        grants=[
            apb.Grant(namespace=g.pattern, actions=actions_to_proto(g.actions))
            for g in token.grants
        ],
        created_ms=token.created_ms,
        expires_ms=token.expires_ms,
    )


def grants_from_proto(grants: Any) -> list[Grant]:
    """Proto grants as ``Grant`` objects; InvalidArgument names the bad one."""
    out = []
    for i, g in enumerate(grants):
        if not g.actions:
            raise InvalidArgument(f"grant {i} ({g.namespace!r}) has no actions")
        out.append(Grant(g.namespace, actions_from_proto(g.actions)))
    return out


class AuthServicer(apb_grpc.AuthServiceServicer):
    """The gRPC face of a ``TokenRegistry``.

    Args:
        registry: The tokens.
    """

    def __init__(self, registry: TokenRegistry) -> None:
        self._registry = registry

    def CreateToken(self, request: apb.CreateTokenRequest, context: Any) -> apb.CreateTokenResponse:
        """Make a token; its secret is in this response only."""
        grants = grants_from_proto(request.grants)
        secret, token = self._registry.create(request.label, grants, request.expires_ms)
        return apb.CreateTokenResponse(token=secret, info=token_info(token))

    def ListTokens(self, request: apb.ListTokensRequest, context: Any) -> apb.ListTokensResponse:
        """Every stored token, oldest first, without secrets."""
        return apb.ListTokensResponse(tokens=[token_info(t) for t in self._registry.list()])

    def RevokeToken(self, request: apb.RevokeTokenRequest, context: Any) -> apb.RevokeTokenResponse:
        """Revoke by id; effective from the next request."""
        if not request.id:
            raise InvalidArgument("RevokeToken needs the token's id (see ListTokens)")
        return apb.RevokeTokenResponse(revoked=self._registry.revoke(request.id))


def add_to_server(servicer: AuthServicer, server: grpc.Server) -> None:
    """Register the AuthService on ``server``."""
    apb_grpc.add_AuthServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
