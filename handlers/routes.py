"""Every listener of the app by kind and id; bolt sees one listener per kind."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs

Listener = Callable[..., Awaitable[None]]
_KEY = {  # the field of a delivery's payload each kind is routed by
    "command": "command",
    "action": "action_id",
    "view": "callback_id",
    "event": "type",
}


class Routes:
    """The app's listeners: commands by name, actions by action_id, views by callback_id,
    events by type.

    Bolt asks its listeners in turn whether a request is theirs, and builds the whole set of
    listener arguments for every one it asks. With one bolt listener per id, a click on the
    seventh button paid for seven of those on the ack path. Here bolt gets one listener per
    kind, matching exactly our ids, and the id picks the method — the same work a bare bolt
    app with two listeners does.
    """

    def __init__(self, wrap: Callable[[Listener], Listener]) -> None:
        self._wrap = wrap  # every listener is guarded (handlers.guard)
        self._tables: dict[str, dict[str, tuple[Listener, tuple[str, ...]]]] = {
            kind: {} for kind in _KEY
        }

    def command(self, name: str, listener: Listener) -> None:
        self._add("command", name, listener)

    def action(self, action_id: str, listener: Listener) -> None:
        self._add("action", action_id, listener)

    def view(self, callback_id: str, listener: Listener) -> None:
        self._add("view", callback_id, listener)

    def event(self, event_type: str, listener: Listener) -> None:
        self._add("event", event_type, listener)

    def _add(self, kind: str, key: str, listener: Listener) -> None:
        table = self._tables[kind]
        if key in table:
            raise ValueError(f"two listeners for the {kind} {key!r}")
        # the arguments bolt would have injected, read once here instead of per request
        names = tuple(inspect.signature(listener).parameters)
        table[key] = (self._wrap(listener), names)

    def install(self, app: AsyncApp) -> None:
        """One bolt listener per kind, for exactly the ids registered (anything else stays
        unhandled, as before)."""
        for kind, table in self._tables.items():
            if not table:
                continue
            ids = re.compile("^(?:" + "|".join(re.escape(k) for k in sorted(table)) + ")$")
            register = getattr(app, kind)
            register(ids)(_dispatch(table, kind))


def _dispatch(table: dict[str, tuple[Listener, tuple[str, ...]]], kind: str) -> Listener:
    field = _KEY[kind]

    async def listener(args: AsyncArgs) -> None:
        run, names = table[getattr(args, kind)[field]]
        await run(**{name: getattr(args, name) for name in names})

    return listener
