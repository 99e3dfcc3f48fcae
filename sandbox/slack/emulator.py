"""Slack emulator: workspace state, Web API at /api/{method}, response_url sink, signed inbound."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.slack import console, payloads
from sandbox.slack.socket_mode import SocketMode

DEFAULT_USERS = {"U0TANAKA": "田中", "U0SATO": "佐藤", "U0SUZUKI": "鈴木", "U0YAMADA": "山田"}
DEFAULT_USERGROUPS = {
    "S0MANAGERS": ("U0SUZUKI",),
    "S0STAFF": ("U0TANAKA", "U0SATO", "U0SUZUKI", "U0YAMADA"),
}
CHANNEL_NAMES = {"C0SHOP1": "shop-main", "C0SHOP2": "shop-second", "C0SUMMARY": "managers"}
RESPONSE_URL_POSTS = 5  # Slack accepts five posts per response_url
HISTORY_LIMIT, HISTORY_MAX = 100, 999  # conversations.history: default and largest page
_JSON_PARAMS = ("blocks", "view", "attachments", "metadata")


@dataclass
class ApiCall:
    method: str  # Web API method, or "response_url" for posts to a response_url
    params: dict[str, Any]
    token: str | None
    at: float
    error: str | None = None  # the error answered, None when ok


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    replies: list[Message] = field(default_factory=list)
    edited: bool = False
    metadata: dict[str, Any] | None = None  # chat.postMessage's message metadata


@dataclass
class Ephemeral:
    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    source: str = "chat.postEphemeral"  # or "response_url", "ack", "slack"
    thread_ts: str | None = None


@dataclass
class View:
    id: str
    type: str  # "modal" | "home"
    user: str
    view: dict[str, Any]
    hash: str
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # last submitted state
    closed: bool = False

    @property
    def callback_id(self) -> str:
        return str(self.view.get("callback_id", ""))

    @property
    def private_metadata(self) -> str:
        return str(self.view.get("private_metadata", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.view.get("blocks", []))


@dataclass
class InboundResult:
    status: int  # 0 when the bot could not be reached or timed out
    body: str
    json: dict[str, Any] | None = None


@dataclass
class _Origin:
    """What a response_url refers to: who invoked, where, and the message it may replace."""

    user: str
    channel: str
    original: tuple[str, str] | None = None  # ("message" | "ephemeral", ts)
    posts: int = 0


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.extra = error, extra


class RateLimitedError(ApiError):
    """HTTP 429 ``ratelimited`` with a ``Retry-After`` header, as Slack answers."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("ratelimited")
        self.retry_after = retry_after


@dataclass(frozen=True)
class PostRate:
    """chat.postMessage's "special" limit: about one message per second per channel, short
    bursts tolerated (Slack publishes no burst size; ``burst`` is ours). A token bucket."""

    per_second: float = 1.0
    burst: int = 3


@dataclass
class _Bucket:
    tokens: float
    at: float


class SlackEmulator:
    """One workspace with one bot; the Web API the bot calls and the Slack client staff use."""

    def __init__(
        self,
        *,
        signing_secret: str,
        bot_url: str | None = None,
        bot_token: str = "xoxb-emulator",
        team_id: str = "T0EMULATOR",
        bot_user_id: str = "U0BOT",
        channels: Sequence[str] = ("C0SHOP1", "C0SHOP2", "C0SUMMARY"),
        users: Mapping[str, str] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        clock: Callable[[], float] = time.time,
        ack_timeout: float = 3.0,
        private: Sequence[str] = (),
        member_of: Sequence[str] = (),
        post_rate: PostRate | None = None,
    ) -> None:
        self.signing_secret, self.bot_url, self.bot_token = signing_secret, bot_url, bot_token
        self.team_id, self.team_domain, self.bot_user_id = team_id, "emulator", bot_user_id
        self.bot_id, self.app_id, self.bot_name = "B0BOT", "A0EMULATOR", "rms-bot"
        self.channels = {c: CHANNEL_NAMES.get(c, c.lower()) for c in channels}
        self.users = dict(users if users is not None else DEFAULT_USERS)
        self.usergroups = {k: list(v) for k, v in (usergroups or DEFAULT_USERGROUPS).items()}
        self.clock, self.ack_timeout = clock, ack_timeout
        # Membership as Slack keeps it: the bot starts in no channel; it may post to public
        # channels anyway (chat:write.public), but reading history needs membership, and a
        # private channel it is not in is invisible to it (channel_not_found).
        self.private: set[str] = set(private)
        self.member_of: set[str] = set(member_of)
        self.archived: set[str] = set()
        self.chat_write_public = True  # the scope our manifest asks for
        # Off by default: most tests pace the bot on a FakeClock while this runs on real time.
        # ``rate_clock`` lets a test put the limit on the bot's clock.
        self.post_rate = post_rate
        self.rate_clock: Callable[[], float] | None = None
        self._buckets: dict[str, _Bucket] = {}
        self._last_ts = 0
        self.socket_mode = SocketMode()
        self.base_url = "http://127.0.0.1"
        self.calls: list[ApiCall] = []
        self.inbound: list[tuple[str, InboundResult]] = []  # (payload type, what the bot answered)
        self.views: dict[str, View] = {}
        self.version = 0  # bumped on every change; the console polls it
        self._messages: dict[str, list[Message]] = {c: [] for c in self.channels}
        self._ephemerals: list[Ephemeral] = []
        self._modal_stack: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, str] = {}
        self._origins: dict[str, _Origin] = {}
        self._failures: dict[str, list[tuple[int, str, int, str | None]]] = {}
        self._seq = itertools.count(1)
        self._changed = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    # -- public inspection -----------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.base_url.rstrip("/") + "/api/"

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str) -> list[Message]:
        return list(self._messages.get(channel, []))

    def ephemerals(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        return [
            e
            for e in self._ephemerals
            if e.user == user and (channel is None or e.channel == channel)
        ]

    def open_modal(self, user: str) -> View | None:
        stack = self._modal_stack.get(user) or []
        return self.views[stack[-1]] if stack else None

    def home(self, user: str) -> View | None:
        view_id = self._homes.get(user)
        return self.views[view_id] if view_id else None

    def user_name(self, user: str) -> str:
        return self.users.get(user, self.bot_name if user == self.bot_user_id else user)

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[ApiCall]:
        """Wait until ``method`` has been called ``count`` times (event-driven, no polling)."""
        try:
            async with asyncio.timeout(timeout):
                while len(found := self.calls_to(method)) < count:
                    await self._changed.wait()
        except TimeoutError:
            seen = [c.method for c in self.calls]
            raise TimeoutError(f"{method}: wanted {count} call(s), saw {seen}") from None
        return found

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int = 0,
        count: int = 1,
        channel: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (to ``channel`` only, if given) with a
        failure instead of doing them."""
        failure = (status, error, retry_after, channel)
        self._failures.setdefault(method, []).extend([failure] * count)

    # -- state changes (shared by the Web API, response_url and acks) ----------------------
    def _notify(self) -> None:
        self.version += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _next_ts(self) -> str:
        """Slack's ts: the time of posting, unique and increasing (so the console shows it)."""
        micros = max(int(self.clock() * 1_000_000), self._last_ts + 100)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}0EMU{next(self._seq):06d}"

    def new_trigger(self, user: str) -> str:
        trigger = f"{next(self._seq)}.{self.team_id}.{int(self.clock())}emulator"
        self._triggers[trigger] = user
        return trigger

    def find_message(self, channel: str, ts: str) -> Message | None:
        for msg in self._messages.get(channel, []):
            for candidate in (msg, *msg.replies):
                if candidate.ts == ts:
                    return candidate
        return None

    def find_ephemeral(self, ts: str) -> Ephemeral | None:
        return next((e for e in self._ephemerals if e.ts == ts), None)

    def post(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]],
        thread_ts: str | None = None,
    ) -> Message:
        msg = Message(self._next_ts(), channel, user, text, blocks, thread_ts)
        if thread_ts:
            parent = self.find_message(channel, thread_ts)
            if parent is not None and parent.thread_ts:  # a reply's ts names its thread
                parent = self.find_message(channel, parent.thread_ts)
            if parent is None:
                raise ApiError("thread_not_found")
            msg.thread_ts = parent.ts
            parent.replies.append(msg)
        else:
            self._messages[channel].append(msg)
        return msg

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]],
        source: str,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        eph = Ephemeral(self._next_ts(), channel, user, text, blocks, source, thread_ts)
        self._ephemerals.append(eph)
        return eph

    def delete(self, kind: str, ts: str, channel: str) -> None:
        if kind == "ephemeral":
            self._ephemerals = [e for e in self._ephemerals if e.ts != ts]
            return
        for msg in list(self._messages.get(channel, [])):
            if msg.ts == ts:
                self._messages[channel].remove(msg)
            msg.replies = [r for r in msg.replies if r.ts != ts]

    def channel_id(self, channel: Any) -> str:
        name = str(channel or "").lstrip("#")
        for cid, cname in self.channels.items():
            if name in (cid, cname):
                return cid
        raise ApiError("channel_not_found")

    def visible(self, channel: Any) -> str:
        """The channel's id if the bot can see it: a private channel it is not in does not
        exist for it (Slack answers channel_not_found, not not_in_channel)."""
        cid = self.channel_id(channel)
        if cid in self.private and cid not in self.member_of:
            raise ApiError("channel_not_found")
        return cid

    def take_post_slot(self, channel: str) -> None:
        """Spend one chat.postMessage token of ``channel`` or raise RateLimitedError."""
        if self.post_rate is None:
            return
        rate, now = self.post_rate, (self.rate_clock or self.clock)()
        bucket = self._buckets.setdefault(channel, _Bucket(float(rate.burst), now))
        bucket.tokens = min(rate.burst, bucket.tokens + (now - bucket.at) * rate.per_second)
        bucket.at = now
        if bucket.tokens < 1:
            raise RateLimitedError(max(1, math.ceil((1 - bucket.tokens) / rate.per_second)))
        bucket.tokens -= 1

    def close_views(self, user: str, view_id: str | None = None) -> None:
        stack = self._modal_stack.get(user, [])
        for vid in [v for v in stack if view_id in (None, v)]:
            self.views[vid].closed = True
            stack.remove(vid)

    # -- HTTP app ------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/respond/{token}", self._handle_respond)
        self.socket_mode.add_routes(app)
        console.add_routes(app, self)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_cleanup(self, _app: web.Application) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        auth = request.headers.get("Authorization", "")
        token = params.pop("token", None)
        if auth.startswith("Bearer "):
            token = auth.removeprefix("Bearer ").strip()
        call = ApiCall(method, params, token, self.clock())
        self.calls.append(call)
        if method == "apps.connections.open":  # the app-level token, not the bot token
            self.socket_mode.base_url = self.base_url
            return web.json_response(self.socket_mode.connections_open(token), dumps=_dumps)
        status, body, headers = self._dispatch(method, params, token)
        call.error = None if body.get("ok") else body.get("error")
        self._notify()
        return web.json_response(body, status=status, headers=headers, dumps=_dumps)

    def _dispatch(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        handler = _METHODS.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if token != self.bot_token:
            return 200, {"ok": False, "error": "invalid_auth" if token else "not_authed"}, {}
        queue = self._failures.get(method) or []
        if failure := next((f for f in queue if f[3] in (None, params.get("channel"))), None):
            queue.remove(failure)
            status, error, retry_after, _ = failure
            headers = {"Retry-After": str(retry_after)} if status == 429 else {}
            return status, {"ok": False, "error": error}, headers
        try:
            return 200, {"ok": True, **handler(self, params)}, {}
        except RateLimitedError as exc:
            return 429, {"ok": False, "error": exc.error}, {"Retry-After": str(exc.retry_after)}
        except ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, {}

    async def _handle_respond(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        origin = self._origins.get(token)
        params = await _read_params(request)
        call = ApiCall("response_url", params, token, self.clock())
        self.calls.append(call)
        try:
            if origin is None:
                raise ApiError("invalid_url")
            origin.posts += 1
            if origin.posts > RESPONSE_URL_POSTS:
                raise ApiError("used_url")
            self.show_response(origin, params, source="response_url")
        except ApiError as exc:
            call.error = exc.error
            self._notify()
            status = 404 if exc.error.endswith("_url") else 400
            return web.json_response(
                {"ok": False, "error": exc.error, **exc.extra}, status=status, dumps=_dumps
            )
        self._notify()
        return web.json_response({"ok": True})

    def show_response(self, origin: _Origin, params: Mapping[str, Any], *, source: str) -> None:
        """Apply a response_url post or an ack body the way Slack's client shows it."""
        blocks = list(params.get("blocks") or [])
        if errors := payloads.block_errors(blocks):
            raise ApiError("invalid_blocks", errors=errors)
        text = str(params.get("text", ""))
        kind, ts = origin.original or ("", "")
        if _truthy(params.get("delete_original")) and kind:
            self.delete(kind, ts, origin.channel)
            origin.original = None
            return
        if _truthy(params.get("replace_original")) and kind:
            target = (
                self.find_ephemeral(ts)
                if kind == "ephemeral"
                else self.find_message(origin.channel, ts)
            )
            if target is not None:
                target.text, target.blocks = text, blocks
                if isinstance(target, Message):
                    target.edited = True
                return
        thread_ts = params.get("thread_ts")
        if params.get("response_type") == "in_channel":
            msg = self.post(origin.channel, self.bot_user_id, text, blocks, thread_ts)
            origin.original = ("message", msg.ts)
        else:
            eph = self.post_ephemeral(origin.channel, origin.user, text, blocks, source, thread_ts)
            origin.original = ("ephemeral", eph.ts)

    def _new_origin(
        self, user: str, channel: str, original: tuple[str, str] | None = None
    ) -> tuple[_Origin, str]:
        key = f"{self.team_id}-{next(self._seq)}-emu"
        origin = self._origins[key] = _Origin(user, channel, original)
        return origin, f"{self.base_url.rstrip('/')}/respond/{key}"

    def view_json(self, view: View, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A view as Slack returns it from views.* and sends it in payloads."""
        stack = self._modal_stack.get(view.user, [])
        return {
            "close": None,
            "submit": None,
            "clear_on_close": False,
            "notify_on_close": False,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            **view.view,
            "id": view.id,
            "team_id": self.team_id,
            "type": view.type,
            "state": {"values": dict(values or {})},
            "hash": view.hash,
            "root_view_id": stack[0] if view.id in stack else view.id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "app_installed_team_id": self.team_id,
        }

    # -- inbound: drive the bot the way Slack does --------------------------------------
    async def deliver(
        self,
        body: bytes,
        *,
        kind: str = "raw",
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> InboundResult:
        """POST a signed body to the bot; ``headers`` may add e.g. X-Slack-Retry-Num."""
        if not self.bot_url:
            raise RuntimeError("SlackEmulator has no bot_url to deliver to")
        signed = {
            "Content-Type": content_type,
            **payloads.sign(self.signing_secret, body, int(self.clock())),
            **(headers or {}),
        }
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                self.bot_url,
                data=body,
                headers=signed,
                timeout=aiohttp.ClientTimeout(total=self.ack_timeout),
            ) as resp:
                text = await resp.text()
                parsed = _json_object(text) if "json" in resp.content_type else None
                result = InboundResult(resp.status, text, parsed)
        except TimeoutError:
            result = InboundResult(0, "operation_timeout")
        except aiohttp.ClientError:
            result = InboundResult(0, "dispatch_failed")
        self.inbound.append((kind, result))
        self._notify()
        return result

    def _who(self, user: str) -> dict[str, Any]:
        return {
            "user_id": user,
            "user_name": self.user_name(user),
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "api_app_id": self.app_id,
            "trigger_id": self.new_trigger(user),
        }

    async def send_command(
        self, command: str, text: str, *, user: str = "U0TANAKA", channel: str = "C0SHOP1"
    ) -> InboundResult:
        origin, response_url = self._new_origin(user, channel)
        body = payloads.command_body(
            command=command,
            text=text,
            channel_id=channel,
            channel_name=self.channels.get(channel, channel),
            response_url=response_url,
            **self._who(user),
        )
        result = await self.deliver(body, kind="slash_command")
        if result.status != 200:  # Slack tells the user the command failed
            error = result.body if result.status == 0 else "http_service_error"
            self.post_ephemeral(
                channel, user, f'{command} failed with the error "{error}"', [], "slack"
            )
        else:
            self._show_ack(origin, result)
        self._notify()
        return result

    def _show_ack(self, origin: _Origin, result: InboundResult) -> None:
        ack = result.json if result.json is not None else {"text": result.body}
        if ack.get("text") or ack.get("blocks"):
            try:
                self.show_response(origin, ack, source="ack")
            except ApiError as exc:
                self.post_ephemeral(
                    origin.channel, origin.user, f"ack rejected: {exc.error}", [], "slack"
                )

    async def click(
        self,
        *,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str = "",
        user: str = "U0TANAKA",
        block_id: str = "",
    ) -> InboundResult:
        """Click a button in a channel message or in one of ``user``'s ephemeral messages."""
        msg = self.find_message(channel, message_ts)
        eph = None if msg else self.find_ephemeral(message_ts)
        source = msg or eph
        if source is None:
            raise LookupError(f"no message {message_ts} in {channel}")
        found = payloads.find_action(source.blocks, action_id, block_id)
        element, bid = found if found else (None, block_id)
        origin, response_url = self._new_origin(
            user, source.channel, ("message" if msg else "ephemeral", message_ts)
        )
        message = (
            None
            if msg is None
            else {
                "type": "message",
                "ts": msg.ts,
                "user": msg.user,
                "text": msg.text,
                "blocks": msg.blocks,
                **({"thread_ts": msg.thread_ts} if msg.thread_ts else {}),
            }
        )
        body = payloads.block_actions_body(
            action=payloads.action_from_element(
                element, action_id=action_id, block_id=bid, value=value
            ),
            action_ts=f"{self.clock():.6f}",
            channel_id=source.channel,
            channel_name=self.channels.get(source.channel, source.channel),
            message_ts=message_ts,
            message=message,
            is_ephemeral=eph is not None,
            response_url=response_url,
            **self._who(user),
        )
        result = await self.deliver(body, kind="block_actions")
        if result.status == 200:
            self._show_ack(origin, result)
        self._notify()
        return result

    async def click_view(
        self,
        view_id: str,
        action_id: str,
        *,
        value: str = "",
        user: str = "U0TANAKA",
        block_id: str = "",
    ) -> InboundResult:
        """Click a button inside a modal or the Home tab (container type "view")."""
        view = self.views[view_id]
        found = payloads.find_action(view.blocks, action_id, block_id)
        element, bid = found if found else (None, block_id)
        body = payloads.block_actions_body(
            action=payloads.action_from_element(
                element, action_id=action_id, block_id=bid, value=value
            ),
            action_ts=f"{self.clock():.6f}",
            view=self.view_json(view),
            **self._who(user),
        )
        return await self.deliver(body, kind="block_actions")

    async def submit_view(
        self, view_id: str, values: dict[str, dict[str, dict[str, Any]]], *, user: str = "U0TANAKA"
    ) -> InboundResult:
        """Submit an open modal; apply the ack's response_action like Slack does."""
        view = self.views[view_id]
        if view.closed or view.type != "modal":
            raise LookupError(f"view {view_id} is not an open modal")
        view.values = values
        body = payloads.view_submission_body(view=self.view_json(view, values), **self._who(user))
        result = await self.deliver(body, kind="view_submission")
        ack = result.json or {}
        action = ack.get("response_action")
        if result.status != 200:
            view.errors = {"": "We had some trouble connecting. Try again?"}
        elif action == "errors":
            view.errors = dict(ack.get("errors") or {})
        elif action in ("update", "push") and isinstance(ack.get("view"), dict):
            if action == "update":
                view.view, view.hash, view.errors = dict(ack["view"]), self._next_id("H"), {}
            else:
                self._open_view(user, dict(ack["view"]), push=True)
        elif action == "clear":
            self.close_views(user)
        else:
            self.close_views(user, view_id)
        self._notify()
        return result

    async def open_app_home(self, user: str = "U0TANAKA") -> InboundResult:
        home = self.home(user)
        event = payloads.app_home_opened(
            user=user,
            channel=f"D0{user[1:]}",
            event_ts=f"{self.clock():.6f}",
            view=self.view_json(home) if home else None,
        )
        body = payloads.event_body(
            event=event,
            team_id=self.team_id,
            api_app_id=self.app_id,
            bot_user_id=self.bot_user_id,
            event_id=self._next_id("Ev"),
            event_time=int(self.clock()),
        )
        return await self.deliver(body, kind="events_api", content_type="application/json")

    def _open_view(self, user: str, view: dict[str, Any], *, push: bool) -> View:
        opened = View(self._next_id("V"), "modal", user, view, self._next_id("H"))
        self.views[opened.id] = opened
        if not push:
            self.close_views(user)
        self._modal_stack.setdefault(user, []).append(opened.id)
        return opened


# -- Web API methods: (emulator, params) -> the fields of an ok response ----------------------


def _auth_test(emu: SlackEmulator, _params: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"https://{emu.team_domain}.slack.com/",
        "team": "Emulator",
        "user": emu.bot_name,
        "team_id": emu.team_id,
        "user_id": emu.bot_user_id,
        "bot_id": emu.bot_id,
        "is_enterprise_install": False,
    }


def _message_json(emu: SlackEmulator, msg: Message) -> dict[str, Any]:
    out = {
        "type": "message",
        "ts": msg.ts,
        "user": msg.user,
        "text": msg.text,
        "blocks": msg.blocks,
        "bot_id": emu.bot_id,
        "team": emu.team_id,
    }
    return {**out, "thread_ts": msg.thread_ts} if msg.thread_ts else out


def _content(params: dict[str, Any], *, required: bool = True) -> tuple[str, list[Any]]:
    blocks, text = params.get("blocks") or [], str(params.get("text") or "")
    if errors := payloads.block_errors(blocks):
        raise ApiError(
            "invalid_blocks",
            errors=errors,
            response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
        )
    if required and not text and not blocks:
        raise ApiError("no_text")
    return text, list(blocks)


def _metadata(params: dict[str, Any]) -> dict[str, Any] | None:
    """Message metadata as Slack checks it: an event_type name and an event_payload object."""
    if "metadata" not in params or params["metadata"] in (None, ""):
        return None
    metadata = params["metadata"]
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and metadata["event_type"]
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    return metadata


def _post_message(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    channel = emu.visible(params.get("channel"))
    if channel in emu.archived:
        raise ApiError("is_archived")
    if channel not in emu.member_of and not (emu.chat_write_public and channel not in emu.private):
        raise ApiError("not_in_channel")
    text, blocks = _content(params)
    metadata = _metadata(params)
    emu.take_post_slot(channel)
    msg = emu.post(channel, emu.bot_user_id, text, blocks, params.get("thread_ts") or None)
    msg.metadata = metadata
    return {"channel": channel, "ts": msg.ts, "message": _message_json(emu, msg)}


def _cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _from_cursor(cursor: str) -> float:
    try:
        kind, _, ts = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind != "next_ts":
            raise ValueError(kind)
        return float(ts)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None


def _history(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    """conversations.history as Slack answers a bot: members only, newest first, pages of
    ``limit`` (default 100, at most 999) behind ``response_metadata.next_cursor``; ``oldest``
    and ``latest`` exclusive unless ``inclusive``; metadata only when asked for."""
    channel = emu.visible(params.get("channel"))
    if channel not in emu.member_of:
        raise ApiError("not_in_channel")
    try:
        limit = int(params.get("limit") or HISTORY_LIMIT)
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 0) or math.inf
    except ValueError:
        raise ApiError("invalid_arguments") from None
    limit = min(max(limit, 1), HISTORY_MAX)
    inclusive = _truthy(params.get("inclusive"))
    start = _from_cursor(str(params["cursor"])) if params.get("cursor") else math.inf

    def within(ts: float) -> bool:
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    found = [
        m for m in reversed(emu.messages(channel)) if within(float(m.ts)) and float(m.ts) <= start
    ]
    page, rest = found[:limit], found[limit:]
    answer: dict[str, Any] = {"messages": _page(emu, page, params), "has_more": bool(rest)}
    if rest:
        answer["response_metadata"] = {"next_cursor": _cursor(rest[0].ts)}
    return answer


def _page(emu: SlackEmulator, page: list[Message], params: dict[str, Any]) -> list[Any]:
    """Messages as history/replies show them; metadata only with include_all_metadata."""
    with_metadata = _truthy(params.get("include_all_metadata"))
    out = []
    for m in page:
        item = _message_json(emu, m)
        if with_metadata and m.metadata:
            item["metadata"] = m.metadata
        out.append(item)
    return out


def _replies(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    """conversations.replies: a thread (its parent first, then the replies, oldest first),
    members only, in pages of ``limit`` behind ``next_cursor``; metadata only when asked."""
    channel = emu.visible(params.get("channel"))
    if channel not in emu.member_of:
        raise ApiError("not_in_channel")
    parent = emu.find_message(channel, str(params.get("ts") or ""))
    if parent is None:
        raise ApiError("thread_not_found")
    try:
        limit = min(max(int(params.get("limit") or HISTORY_LIMIT), 1), HISTORY_MAX)
        start = int(params["cursor"]) if params.get("cursor") else 0
    except ValueError:
        raise ApiError("invalid_cursor") from None
    thread = [parent, *parent.replies]
    page = thread[start : start + limit]
    answer: dict[str, Any] = {
        "messages": _page(emu, page, params),
        "has_more": start + limit < len(thread),
    }
    if answer["has_more"]:
        answer["response_metadata"] = {"next_cursor": str(start + limit)}
    return answer


def _update(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    channel = emu.visible(params.get("channel"))
    msg = emu.find_message(channel, str(params.get("ts", "")))
    if msg is None:
        raise ApiError("message_not_found")
    if msg.user != emu.bot_user_id:
        raise ApiError("cant_update_message")
    text, blocks = _content(params, required=False)
    if "text" in params:  # omitted fields keep their previous value, as in Slack
        msg.text = text
    if "blocks" in params:
        msg.blocks = blocks
    msg.edited = True
    return {"channel": channel, "ts": msg.ts, "text": msg.text, "message": _message_json(emu, msg)}


def _delete(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    channel = emu.visible(params.get("channel"))
    if emu.find_message(channel, str(params.get("ts", ""))) is None:
        raise ApiError("message_not_found")
    emu.delete("message", str(params["ts"]), channel)
    return {"channel": channel, "ts": params["ts"]}


def _post_ephemeral(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    channel = emu.visible(params.get("channel"))
    if not params.get("user"):
        raise ApiError("user_not_in_channel")
    text, blocks = _content(params)
    eph = emu.post_ephemeral(
        channel,
        str(params["user"]),
        text,
        blocks,
        "chat.postEphemeral",
        params.get("thread_ts") or None,
    )
    return {"message_ts": eph.ts}


def _checked_view(params: dict[str, Any], kind: str) -> dict[str, Any]:
    view = params.get("view")
    if not isinstance(view, dict) or view.get("type") != kind:
        raise ApiError(
            "invalid_arguments",
            response_metadata={
                "messages": [f"[ERROR] view.type must be {kind} [json-pointer:/view/type]"]
            },
        )
    if errors := payloads.view_errors(view):
        raise ApiError(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
        )
    return view


def _take_trigger(emu: SlackEmulator, params: dict[str, Any]) -> str:
    user = emu._triggers.pop(str(params.get("trigger_id", "")), None)  # single use
    if user is None:
        raise ApiError("expired_trigger_id")
    return user


def _views_open(
    emu: SlackEmulator, params: dict[str, Any], *, push: bool = False
) -> dict[str, Any]:
    view = _checked_view(params, "modal")
    opened = emu._open_view(_take_trigger(emu, params), view, push=push)
    return {"view": emu.view_json(opened)}


def _views_update(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    view_id, external_id = params.get("view_id"), params.get("external_id")
    target = next(
        (
            v
            for v in emu.views.values()
            if v.id == view_id or (external_id and v.view.get("external_id") == external_id)
        ),
        None,
    )
    if target is None:
        raise ApiError("not_found")
    if params.get("hash") and params["hash"] != target.hash:
        raise ApiError("hash_conflict")
    target.view = _checked_view(params, target.type)
    target.hash, target.errors = emu._next_id("H"), {}
    return {"view": emu.view_json(target)}


def _views_publish(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    user, view = str(params.get("user_id", "")), _checked_view(params, "home")
    if not user:
        raise ApiError("invalid_arguments")
    home = emu.home(user)
    if home is None:
        home = View(emu._next_id("V"), "home", user, view, "")
        emu.views[home.id] = home
        emu._homes[user] = home.id
    home.view, home.hash = view, emu._next_id("H")
    return {"view": emu.view_json(home)}


def _usergroup_users(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    group = emu.usergroups.get(str(params.get("usergroup", "")))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group)}


def _channel_json(emu: SlackEmulator, cid: str) -> dict[str, Any]:
    private = cid in emu.private
    return {
        "id": cid,
        "name": emu.channels[cid],
        "is_channel": not private,
        "is_group": private,
        "is_private": private,
        "is_archived": cid in emu.archived,
        "is_member": cid in emu.member_of,
    }


def _conversations_info(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    return {"channel": _channel_json(emu, emu.visible(params.get("channel")))}


def _conversations_join(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    """Public channels only (channels:join); a private one needs an invitation."""
    cid = emu.visible(params.get("channel"))
    if cid in emu.private:
        raise ApiError("method_not_supported_for_channel_type")
    if cid in emu.archived:
        raise ApiError("is_archived")
    answer: dict[str, Any] = {}
    if cid in emu.member_of:
        answer = {
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    emu.member_of.add(cid)
    return {"channel": _channel_json(emu, cid), **answer}


def _users_info(emu: SlackEmulator, params: dict[str, Any]) -> dict[str, Any]:
    uid = str(params.get("user", ""))
    if uid not in emu.users:
        raise ApiError("user_not_found")
    name = emu.users[uid]
    return {
        "user": {
            "id": uid,
            "team_id": emu.team_id,
            "name": uid.lower(),
            "real_name": name,
            "is_bot": False,
            "profile": {"display_name": name, "real_name": name},
        }
    }


_METHODS: dict[str, Callable[[SlackEmulator, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.delete": _delete,
    "chat.postEphemeral": _post_ephemeral,
    "views.open": _views_open,
    "views.push": lambda emu, params: _views_open(emu, params, push=True),
    "views.update": _views_update,
    "views.publish": _views_publish,
    "usergroups.users.list": _usergroup_users,
    "conversations.info": _conversations_info,
    "conversations.history": _history,
    "conversations.replies": _replies,
    "conversations.join": _conversations_join,
    "users.info": _users_info,
}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")  # slack_sdk sends bools as 1/0


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query, form and JSON parameters merged, JSON-valued form fields decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            params.update(_json_object(await request.text()) or {})
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    for key in _JSON_PARAMS:
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):  # the method handler reports it
                params[key] = json.loads(params[key])
    return params
