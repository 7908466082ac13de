"""A Janus session over the HTTP transport: requests, the long poll for events, keepalives.

Janus's REST API: POST {"janus": "create"} to /janus makes a session; POST {"janus":
"attach", "plugin": ...} to /janus/SESSION makes a handle; POST {"janus": "message",
"body": ..., "jsep": ...} to /janus/SESSION/HANDLE sends a plugin request, answered at once
("success" with plugindata) or later ("ack", then an "event" carrying the same transaction
on the long poll GET /janus/SESSION). Every request carries the API secret or token when
the server requires one. urllib runs in threads: one long poll and short requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import json
import logging
import secrets
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

KEEPALIVE_EVERY = 25.0  # Janus's default session_timeout is 60 s
POLL_SECONDS = 30  # Janus holds a long poll up to 30 s when nothing happens
REQUEST_TIMEOUT = 10.0

# VideoRoom error codes (janus_videoroom.c) -> what a person should be told.
VIDEOROOM_ERRORS = {
    426: "no such room",
    433: "wrong PIN or not allowed in this room",
    432: "the room is full (no publisher slot free)",
    428: "no such feed",
    436: "already joined as a publisher",
    434: "the room has no such participant (already left?)",
}
CORE_ERRORS = {
    403: "unauthorized: wrong or missing API secret or token",
    458: "the session does not exist (expired or Janus restarted)",
    459: "the handle does not exist (expired or Janus restarted)",
}


class JanusError(RuntimeError):
    """Janus refused something; `code` is Janus's, the message says it in words."""

    def __init__(self, code: int, reason: str, what: str = "") -> None:
        self.code = code
        self.reason = reason
        meaning = VIDEOROOM_ERRORS.get(code) or CORE_ERRORS.get(code) or reason
        prefix = f"{what}: " if what else ""
        super().__init__(f"{prefix}{meaning} (Janus error {code}: {reason})")

    @property
    def session_lost(self) -> bool:
        return self.code in (458, 459)


class JanusUnreachable(ConnectionError):
    """No answer from Janus at all (down, restarting, wrong URL)."""


EventHandler = Callable[[dict[str, Any]], None]


class JanusSession:
    """One session: attach handles, send requests, dispatch events to their handles."""

    def __init__(self, url: str, api_secret: str | None = None, token: str | None = None,
                 keepalive_every: float = KEEPALIVE_EVERY) -> None:
        self.url = url.rstrip("/")
        self.api_secret = api_secret
        self.token = token
        self.keepalive_every = keepalive_every
        self.session_id: int | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: dict[int, EventHandler] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Set when the session is gone (Janus restarted, keepalive refused): the owner
        # recreates everything.
        self.lost = asyncio.Event()
        self.closed = False
        self._poll_connection: http.client.HTTPConnection | None = None
        self._poll_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    async def create(self) -> None:
        reply = await self._post(self.url, {"janus": "create"}, "create a session")
        self.session_id = int(reply["data"]["id"])
        self._tasks = [asyncio.create_task(self._poll()),
                       asyncio.create_task(self._keepalive())]
        log.info("janus: session %s on %s", self.session_id, self.url)

    async def attach(self, plugin: str, on_event: EventHandler) -> int:
        reply = await self._post(self._session_url(), {"janus": "attach", "plugin": plugin},
                                 f"attach to {plugin}")
        handle = int(reply["data"]["id"])
        self._handlers[handle] = on_event
        return handle

    async def detach(self, handle: int) -> None:
        self._handlers.pop(handle, None)
        # Detaching a handle of a dead session is nothing to report.
        with contextlib.suppress(JanusError, JanusUnreachable):
            await self._post(f"{self._session_url()}/{handle}", {"janus": "detach"}, "detach")

    async def destroy(self) -> None:
        self.closed = True
        self._abort_poll()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session_id is not None and not self.lost.is_set():
            with contextlib.suppress(JanusError, JanusUnreachable):
                await self._post(self._session_url(), {"janus": "destroy"}, "destroy")
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(JanusUnreachable("session closed"))
        self._waiting.clear()

    # -- plugin requests ------------------------------------------------------------------

    async def request(self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None
                      = None, what: str = "", timeout: float = 20.0) -> tuple[dict, dict | None]:
        """Send a plugin message; returns (plugin data, jsep) of the answer, whether Janus
        answers at once or acks and answers with an event. Plugin errors raise JanusError."""
        transaction = self._transaction()
        message: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            message["jsep"] = jsep
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        try:
            reply = await self._post(f"{self._session_url()}/{handle}", message,
                                     what or body.get("request", "request"))
            if reply.get("janus") == "ack":
                reply = await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(transaction, None)
        data = reply.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "")),
                             what or str(body.get("request", "")))
        return data, reply.get("jsep")

    async def trickle_done(self, handle: int) -> None:
        """We send complete SDP, so the only trickle is the end-of-candidates marker."""
        await self._post(f"{self._session_url()}/{handle}",
                         {"janus": "trickle", "candidate": {"completed": True}}, "trickle")

    # -- internals ------------------------------------------------------------------------

    def _session_url(self) -> str:
        if self.session_id is None:
            raise JanusUnreachable("no session")
        return f"{self.url}/{self.session_id}"

    def _transaction(self) -> str:
        return f"{next(self._ids)}-{secrets.token_hex(4)}"

    def _credentials(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.api_secret:
            message["apisecret"] = self.api_secret
        if self.token:
            message["token"] = self.token
        return message

    async def _post(self, url: str, message: dict[str, Any], what: str) -> dict[str, Any]:
        message.setdefault("transaction", self._transaction())
        body = json.dumps(self._credentials(message)).encode()
        reply = await asyncio.to_thread(_http, "POST", url, body, REQUEST_TIMEOUT)
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")), what)
        return reply

    async def _poll(self) -> None:
        """The long poll: events for our handles, answers to acked requests."""
        failures = 0
        while not self.closed:
            query = f"?maxev=10&rid={next(self._ids)}"
            if self.api_secret:
                query += f"&apisecret={urllib.request.quote(self.api_secret)}"
            if self.token:
                query += f"&token={urllib.request.quote(self.token)}"
            try:
                reply = await asyncio.to_thread(self._long_poll, self._session_url() + query)
                failures = 0
            except JanusUnreachable as error:
                failures += 1
                if failures >= 3:
                    log.warning("janus: long poll failed 3 times (%s): session lost", error)
                    self._lose()
                    return
                await asyncio.sleep(1.0)
                continue
            for event in reply if isinstance(reply, list) else [reply]:
                if event.get("janus") == "error" and event.get("error", {}).get("code") == 458:
                    log.warning("janus: session %s no longer exists", self.session_id)
                    self._lose()
                    return
                self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "keepalive":
            return
        transaction = event.get("transaction")
        future = self._waiting.get(transaction) if transaction else None
        if future is not None and not future.done() and kind in ("event", "success", "error"):
            future.set_result(event)
            return
        handler = self._handlers.get(event.get("sender", 0))
        if handler is not None:
            try:
                handler(event)
            except Exception:  # one bad event must not stop the poll
                log.exception("janus: event handler failed on %s", kind)

    async def _keepalive(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.keepalive_every)
            try:
                await self._post(self._session_url(), {"janus": "keepalive"}, "keepalive")
            except JanusError as error:
                log.warning("janus: keepalive refused (%s): session lost", error)
                self._lose()
                return
            except JanusUnreachable:
                continue  # the poll decides when the session is lost

    def _long_poll(self, url: str) -> Any:
        """One GET held by Janus up to 30 s, on a connection destroy() can cut short (a
        thread blocked in a read cannot be cancelled, and asyncio.run would wait for it)."""
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                                timeout=POLL_SECONDS + 10)
        try:
            with self._poll_lock:  # either destroy() sees this socket, or we see `closed`
                if self.closed:
                    raise JanusUnreachable("session closed")
                connection.connect()
                self._poll_connection = connection
            connection.request("GET", f"{parts.path}?{parts.query}")
            response = connection.getresponse()
            return json.loads(response.read() or b"{}")
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise JanusUnreachable(f"{url}: {error}") from None
        finally:
            self._poll_connection = None
            connection.close()

    def _abort_poll(self) -> None:
        with self._poll_lock:
            connection = self._poll_connection
            if connection is not None and connection.sock is not None:
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)

    def _lose(self) -> None:
        self.lost.set()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(JanusUnreachable("session lost"))


def _http(method: str, url: str, body: bytes | None, timeout: float) -> Any:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return json.loads(error.read() or b"{}")
        except ValueError:
            raise JanusUnreachable(f"HTTP {error.code} from {url}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise JanusUnreachable(f"{url}: {error}") from None
