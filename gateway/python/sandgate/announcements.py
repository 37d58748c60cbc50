"""What a handler tells every client that asked, not only its own: a resource it changed, a list that changed.

The core holds who subscribed (handshake-era `resources/subscribe`, 2026-07-28 `subscriptions/listen`) and
hands the dispatcher one hub for the whole process; each call that takes a Context gets an `Announcer` over
it, bounded by `max_announcements_per_call`. A sandboxed child writes `announce` frames instead, which the
gateway checks again and sends through the same per-call bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sandgate.errors import InvalidAnnouncement

# The changes a handler may announce, by the core's names, and the notification each one is.
RESOURCE_UPDATED = "resource_updated"
LIST_CHANGED = {"tools": "tools_list_changed", "prompts": "prompts_list_changed",
                "resources": "resources_list_changed"}
ELICITATION_COMPLETE = "elicitation_complete"  # to the call's own session only; the subject is the elicitation id
KIND_OF_METHOD = {
    "notifications/resources/updated": RESOURCE_UPDATED,
    "notifications/elicitation/complete": ELICITATION_COMPLETE,
    "notifications/tools/list_changed": LIST_CHANGED["tools"],
    "notifications/prompts/list_changed": LIST_CHANGED["prompts"],
    "notifications/resources/list_changed": LIST_CHANGED["resources"],
}
KINDS = frozenset(KIND_OF_METHOD.values())
MAX_URI_CHARS = 2048  # the core holds announced URIs to max_subscription_uri_bytes as well

DEFAULT_MAX_ANNOUNCEMENTS_PER_CALL = 100

# (kind, uri) -> whether it was taken; what a Context calls.
Announce = Callable[[str, str], bool]


class Hub(Protocol):
    """The core's side (`_core.Announcements`)."""

    def announce(self, kind: str, uri: str = "", session: str = "") -> int: ...

    def drop_over_limit(self) -> None: ...


def check(kind: object, uri: object) -> tuple[str, str]:
    """The (kind, subject) of a well-formed announcement: the subject is a resource update's URI or a completed
    elicitation's id, else ""; raises InvalidAnnouncement."""
    if kind not in KINDS:
        raise InvalidAnnouncement(f"unknown change {kind!r}: one of {sorted(KINDS)}")
    if kind not in (RESOURCE_UPDATED, ELICITATION_COMPLETE):
        return str(kind), ""
    what = "a resource update needs a URI" if kind == RESOURCE_UPDATED else "a completed elicitation needs its id"
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_CHARS:
        raise InvalidAnnouncement(f"{what} of 1 to {MAX_URI_CHARS} characters")
    return str(kind), uri


def of_notification(notification: Any) -> tuple[str, str]:
    """(kind, uri) of a notification object as fastmcp's `send_notification` takes it (mcp.types), or raises."""
    method = getattr(notification, "method", None)
    if method not in KIND_OF_METHOD:
        raise InvalidAnnouncement(
            f"cannot send {method!r}: a handler may send {sorted(KIND_OF_METHOD)} (log with ctx.info and the like)")
    params = getattr(notification, "params", None)
    subject = getattr(params, "elicitation_id" if method == "notifications/elicitation/complete" else "uri", None)
    return check(KIND_OF_METHOD[method], "" if subject is None else str(subject))


class Announcer:
    """One call's announcements, at most `limit` of them; the rest are counted and dropped. `session` is the
    call's (as the core names it): where a completed elicitation is told."""

    __slots__ = ("_hub", "_left", "_session")

    def __init__(self, hub: Hub, limit: int, session: str = "") -> None:
        self._hub = hub
        self._left = limit
        self._session = session

    def __call__(self, kind: str, uri: str = "") -> bool:
        if self._left <= 0:
            self._hub.drop_over_limit()
            return False
        self._left -= 1
        return self._hub.announce(kind, uri, self._session) >= 0


def announce_list_changed(hub: Hub | None, kind: str) -> None:
    """The server's own list change (not a call's): to every session and listen stream that hears it."""
    if hub is not None:
        hub.announce(LIST_CHANGED[kind])


def forward_untrusted(announce: Announce, value: object) -> bool:
    """A sandboxed child's {"kind", "uri"?} frame: sent when well-formed, else dropped."""
    if not isinstance(value, dict):
        return False
    try:
        kind, uri = check(value.get("kind"), value.get("uri"))
    except InvalidAnnouncement:
        return False
    return announce(kind, uri)
