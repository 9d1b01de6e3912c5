"""Grants: which actions a token may take on which namespaces.

A grant is a namespace pattern plus a set of actions. Patterns are deliberately simple,
so that whether a grant covers a namespace is obvious from reading it:

- ``agent:planner/user:42``: exactly that namespace;
- ``team:alpha/*``: every namespace starting with ``team:alpha/`` (a prefix; ``*`` is
  only allowed at the end, so a pattern never matches more than its text says);
- ``*``: every namespace.

Actions are bits, so a token's grants on a namespace combine with ``|`` and a check is
one ``&``. ADMIN on ``*`` ("global admin") is what the calls over the whole store need
(Sweep, Backup, a lifecycle pass over everything, token administration).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from memd._pb.v1 import auth_service_pb2 as apb
from memd.errors import InvalidArgument

MAX_NAMESPACE_BYTES = 128
ALL = "*"


class Action(enum.IntFlag):
    """What a grant allows (the proto's ``memd.v1.Action``, as bits)."""

    READ = 1
    WRITE = 2
    DELETE = 4
    ADMIN = 8


NO_ACTION = Action(0)
EVERY_ACTION = Action.READ | Action.WRITE | Action.DELETE | Action.ADMIN

_PROTO_OF: dict[Action, apb.Action] = {
    Action.READ: apb.ACTION_READ,
    Action.WRITE: apb.ACTION_WRITE,
    Action.DELETE: apb.ACTION_DELETE,
    Action.ADMIN: apb.ACTION_ADMIN,
}
_BY_PROTO: dict[int, Action] = {int(number): bit for bit, number in _PROTO_OF.items()}
_BY_NAME = {a.name.lower(): a for a in Action if a.name}


def action_from_proto(number: int) -> Action:
    """The bit of a ``memd.v1.Action`` value; InvalidArgument for 0 or unknown values."""
    action = _BY_PROTO.get(number)
    if action is None:
        raise InvalidArgument(f"grant action {number} is not one of READ, WRITE, DELETE, ADMIN")
    return action


def actions_from_proto(numbers: Iterable[int]) -> Action:
    """The union of ``memd.v1.Action`` values; InvalidArgument for 0 or unknown ones."""
    out = NO_ACTION
    for number in numbers:
        out |= action_from_proto(number)
    return out


def actions_to_proto(actions: Action) -> list[apb.Action]:
    """The ``memd.v1.Action`` values of a set of bits, in enum order."""
    return [number for bit, number in _PROTO_OF.items() if actions & bit]


def action_names(actions: Action) -> list[str]:
    """``["read", "write"]`` for ``READ | WRITE``."""
    return [name for name, bit in _BY_NAME.items() if actions & bit]


def actions_from_names(names: Iterable[str]) -> Action:
    """Parse action names (``read``, ``write``, ``delete``, ``admin``, or ``all``)."""
    out = NO_ACTION
    for raw in names:
        name = raw.strip().lower()
        if name == "all":
            out |= EVERY_ACTION
        elif name in _BY_NAME:
            out |= _BY_NAME[name]
        else:
            raise InvalidArgument(f"unknown action {raw!r}; expected read, write, delete, admin")
    return out


@dataclass(frozen=True, slots=True)
class Grant:
    """Actions on the namespaces a pattern matches.

    Attributes:
        pattern: An exact namespace, a prefix ending in ``*``, or ``*``.
        actions: The allowed actions (never empty).
    """

    pattern: str
    actions: Action

    def __post_init__(self) -> None:
        check_pattern(self.pattern)
        if not self.actions:
            raise InvalidArgument(f"grant {self.pattern!r} has no actions")

    def matches(self, namespace: str) -> bool:
        """Whether this grant's pattern covers ``namespace``."""
        pattern = self.pattern
        if pattern[-1] == "*":
            return namespace.startswith(pattern[:-1])
        return namespace == pattern

    @property
    def is_global(self) -> bool:
        """Whether the grant covers every namespace."""
        return self.pattern == ALL

    def __str__(self) -> str:
        return f"{self.pattern}={','.join(action_names(self.actions))}"


def parse_grant(text: str) -> Grant:
    """``"team:alpha/*=read,write"`` as a Grant (the CLI's and launcher's syntax)."""
    pattern, sep, names = text.rpartition("=")
    if not sep or not pattern:
        raise InvalidArgument(f"grant {text!r}: expected PATTERN=ACTION[,ACTION...]")
    return Grant(pattern, actions_from_names(names.split(",")))


def check_pattern(pattern: str) -> None:
    """Raise InvalidArgument unless ``pattern`` is a valid namespace pattern."""
    if not pattern:
        raise InvalidArgument("a grant needs a namespace pattern (a namespace, prefix* or *)")
    if len(pattern.encode()) > MAX_NAMESPACE_BYTES + 1 or "\0" in pattern:
        raise InvalidArgument(f"grant pattern {pattern[:40]!r}... is too long or has a NUL")
    if "*" in pattern[:-1]:
        raise InvalidArgument(f"grant pattern {pattern!r}: '*' may only end a pattern")


def allowed(grants: Iterable[Grant], namespace: str) -> Action:
    """The union of the actions ``grants`` allow on ``namespace``."""
    out = NO_ACTION
    for grant in grants:
        if grant.matches(namespace):
            out |= grant.actions
    return out
