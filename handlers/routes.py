"""Every listener of the app by kind and id; bolt sees one listener per kind, and gets its
answer the moment the listener acks."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_bolt.response import BoltResponse

from handlers.guard import Listener

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]
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

    Each listener runs as a task of its own (``spawn``: tracked, drained at shutdown) and
    bolt's listener returns as soon as it acks, so the app runs with
    ``process_before_response=True``: the answer goes out at the ack, where bolt's default
    mode polls every 10 ms to see whether the ack has come. What the listener does after its
    ack (a response_url post, a modal) goes on in its task. ``answering`` marks the time up to
    the ack, and that task, as answering Slack: the jobs' units of work wait (core.store.lock).
    """

    def __init__(
        self,
        wrap: Callable[[Listener], Listener],
        spawn: Spawn,
        answering: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._wrap = wrap  # every listener is guarded (handlers.guard)
        self._spawn = spawn
        self._answering = answering
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
            register(ids)(self._dispatch(table, kind))

    def _dispatch(self, table: dict[str, tuple[Listener, tuple[str, ...]]], kind: str) -> Listener:
        field = _KEY[kind]

        async def listener(args: AsyncArgs) -> None:
            key = getattr(args, kind)[field]
            run, names = table[key]
            kwargs = {name: getattr(args, name) for name in names}
            with self._answering():
                if kind == "event":  # bolt acks an event itself, as soon as this returns
                    self._spawn(run(**kwargs), f"{kind}:{key}")
                    return
                answered = asyncio.get_running_loop().create_future()
                if "ack" in kwargs:
                    kwargs["ack"] = _Ack(kwargs["ack"], answered)
                work = self._spawn(run(**kwargs), f"{kind}:{key}")
                work.add_done_callback(lambda _: _resolve(answered))
                await answered  # the ack, or the end of a listener that did not ack

        return listener


class _Ack:
    """Bolt's ``ack``, which also tells the dispatcher that the answer is ready."""

    def __init__(self, ack: AsyncAck, answered: asyncio.Future[None]) -> None:
        self._ack = ack
        self._answered = answered

    @property
    def response(self) -> BoltResponse | None:
        return self._ack.response

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return await self._ack(*args, **kwargs)
        finally:
            _resolve(self._answered)


def _resolve(answered: asyncio.Future[None]) -> None:
    if not answered.done():
        answered.set_result(None)
