"""The starlette app: the page, signalling, transcripts, health, metrics.

Models load once in the lifespan (off the event loop, warm-up decode included); `/readyz`
says when they are ready. Tests build the app with engines already loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot import languages, profanity
from bot import metrics as prometheus
from bot.auth import AuthError, Grant, TokenAuthority, bearer
from bot.config import Config
from bot.events import Notice
from bot.janus.bots import LEAVE_AFTER, BotFailed, JanusBots
from bot.janus.room import JanusOptions
from bot.limits import RateLimiter
from bot.phrases import Phrase, PhraseError, parse_phrases, to_json
from bot.pipeline.engines import Engines
from bot.room.local import LocalRoom
from bot.room.privacy import privacy_text
from bot.rtc.ice import restrict_host_addresses
from bot.rtc.jitter import set_audio_prefetch
from bot.rtc.peer import adopting_connect_tasks, close_quietly, quiet_orphaned_send_errors
from bot.rtc.sdp_check import SdpError, check_offer
from bot.store import FORMATS, TranscriptStore
from bot.turn import aiortc_servers, ice_servers

log = logging.getLogger(__name__)
WEB = Path(__file__).resolve().parents[1] / "web"
MAX_BODY = 64 * 1024
ROOM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PHRASE_EDITS_PER_MINUTE = 30  # per address: a person edits a few terms, a script a list


class Rooms:
    """Rooms by name; a room disappears when its last participant leaves."""

    def __init__(self) -> None:
        self.rooms: dict[str, LocalRoom] = {}
        # Emptied rooms whose leavers' last utterances are still being finished: a shutdown
        # must stop that work too, before the transcript store it writes to closes.
        self._emptied: set[LocalRoom] = set()

    def get(self, name: str, factory) -> LocalRoom:
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = factory(name)
        return room

    def discard(self, room: LocalRoom) -> None:
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]
        self._emptied = {r for r in self._emptied if r.finishing}
        if room.finishing:
            self._emptied.add(room)

    async def close(self) -> None:
        for room in [*self.rooms.values(), *self._emptied]:
            await room.close()
        self.rooms.clear()
        self._emptied.clear()


class State:
    def __init__(self, config: Config, engines: Engines | None,
                 store: TranscriptStore | None) -> None:
        self.config = config
        self.engines = engines
        self.store = store
        self.rooms = Rooms()
        self.metrics = prometheus.Metrics(self._counts)
        self.ready = asyncio.Event()
        # Why the models could not load (shown by /readyz); None while loading or loaded.
        self.load_error: str | None = None
        self.listen: list[str] = []
        self.speak: list[str] = []
        self.authority = TokenAuthority(config.token_secret) if config.token_secret else None
        self.joins = RateLimiter(config.joins_per_minute)
        # Every peer connection from creation to close, for the process-wide cap.
        self.peer_connections: set[RTCPeerConnection] = set()
        self.draining = False
        # Rooms' own phrase lists when no transcripts are kept; otherwise they live beside
        # the transcripts (and survive a restart when those are on disk).
        self.phrases: dict[str, tuple[Phrase, ...]] = {}
        self.phrase_edits = RateLimiter(PHRASE_EDITS_PER_MINUTE)
        # Interpreter bots in Janus rooms, started on a page's request (a Janus URL set).
        self.janus_bots: JanusBots | None = None
        self.cluster_error: str | None = None

    def _counts(self) -> prometheus.AppCounts:
        rooms = list(self.rooms.rooms.values())
        return prometheus.AppCounts(
            rooms=len(rooms), participants=sum(len(room.participants) for room in rooms),
            peer_connections=len(self.peer_connections))

    def room_phrases(self, room: str) -> tuple[Phrase, ...]:
        """A room's phrase list: its own once someone set one, else the configured one."""
        if room in self.phrases:
            return self.phrases[room]
        stored = self.store.phrases(room) if self.store is not None else None
        if stored is not None:
            try:
                return parse_phrases(stored)
            except PhraseError:
                log.warning("room %s: stored phrase list unreadable, using the configured one",
                            room)
        return self.config.phrases

    def set_room_phrases(self, room: str, phrases: tuple[Phrase, ...]) -> None:
        if self.store is not None:
            self.store.set_phrases(room, to_json(phrases))
        else:
            self.phrases[room] = phrases
        live = self.rooms.rooms.get(room)
        if live is not None:
            live.set_phrases(phrases)

    def set_engines(self, engines: Engines) -> None:
        self.engines = engines
        router = engines.router
        targets = {target for _, target in router.pairs()} | {"en"}
        voices = engines.voices
        self.listen = sorted(t for t in targets if voices is None or voices.voice_for(t))
        # A language is worth speaking if someone can hear it: translated, or as it is (a
        # room of English listeners needs no engine for English speakers).
        heard = set(self.listen)
        self.speak = sorted(lang for lang in languages.NAMES
                            if lang in heard or heard & set(router.reachable(lang)))
        if self.config.janus.get("url") and not self.config.cluster.get("address"):
            self.janus_bots = JanusBots(self.janus_template(), engines, self.leave_after(),
                                        store=self.store)
        self.ready.set()

    def janus_template(self) -> JanusOptions:
        janus = self.config.janus
        return JanusOptions(
            url=janus["url"], room=0, api_secret=janus.get("api_secret") or None,
            token=janus.get("token") or None, allowed=self.config.asr_allowed,
            turn=self.config.turn, phrases=self.config.phrases,
            lead_seconds=self.config.asr_lead_seconds)

    def leave_after(self) -> float:
        return float(self.config.janus.get("leave_after", LEAVE_AFTER))

    async def join_cluster(self) -> None:
        """With [cluster] address and a Janus: room bots go to Ray actors, recognition to a
        Serve deployment (bot/cluster). Until connected, Janus requests get 503."""
        from bot.cluster.connect import join_cluster
        from bot.cluster.room_bots import ClusterBots

        try:
            await asyncio.to_thread(join_cluster, self.config)
        except Exception as problem:  # shown to Janus requests and in the log
            self.cluster_error = f"{type(problem).__name__}: {problem}"
            log.error("cluster: cannot use %s: %s", self.config.cluster["address"],
                      self.cluster_error)
            return
        self.janus_bots = ClusterBots(self.janus_template(), self.config, self.leave_after(),
                                      store=self.store)


def error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


class Refused(Exception):
    """A request refused before any work: status, reason (for /metrics), message, headers."""

    def __init__(self, status: int, reason: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.headers = status, reason, message, headers


def check_origin(request: Request, allowed: tuple[str, ...]) -> None:
    """State-changing requests from a browser must come from this server's own page or an
    allowed origin. Requests without Origin are not from a browser page (which always sends
    it on POST), so they cannot be cross-site forgeries."""
    origin = request.headers.get("origin")
    if origin is None or "*" in allowed or origin.rstrip("/") in allowed:
        return
    host = request.headers.get("host")
    if origin != "null" and host and urlsplit(origin).netloc == host:
        return
    raise Refused(403, "origin", f"origin {origin[:100]} is not allowed to join rooms here "
                                 "(INTERPRES_ALLOWED_ORIGINS)")


def check_token(request: Request, state: State, room: str) -> Grant | None:
    """The grant of the request's bearer token, or None when this server has open rooms."""
    if state.authority is None:
        return None
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise Refused(401, "auth", "a join token is required: open the invitation link "
                                   "(it ends in #token=...)", **{"WWW-Authenticate": "Bearer"})
    try:
        return state.authority.verify(token, room)
    except AuthError as problem:
        raise Refused(problem.status, "auth", problem.message,
                      **{"WWW-Authenticate": "Bearer"}) from None


def admit(request: Request, state: State, room: str) -> Grant | None:
    """Everything a join must pass before its body is read: draining, the per-address rate,
    the origin and the token."""
    if state.draining:
        raise Refused(503, "draining", "the server is shutting down", **{"Retry-After": "30"})
    address = request.client.host if request.client else "unknown"
    wait = state.joins.acquire(address, time.monotonic())
    if wait:
        raise Refused(429, "rate", "too many joins from this address; try again shortly",
                      **{"Retry-After": str(math.ceil(wait))})
    check_origin(request, state.config.allowed_origins)
    return check_token(request, state, room)


async def read_json(request: Request) -> Any:
    """The body as JSON, refusing other media types and oversized bodies without reading
    them whole (Refused: 415, 413, 400)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Refused(415, "body", "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, "body", f"body larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refused(413, "body", f"body larger than {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise Refused(400, "body", "body is not valid JSON") from None


async def index(request: Request) -> Response:
    return FileResponse(WEB / "index.html")


async def janus_page(request: Request) -> Response:
    """The same meeting page; at /janus it joins a Janus VideoRoom (video) instead."""
    return FileResponse(WEB / "index.html")


# Janus's browser library and the WebRTC adapter it needs, from Debian's packages
# (libjs-janus-gateway, libjs-webrtc-adapter): served, never bundled.
VENDOR = {"janus.js": Path("/usr/share/javascript/janus-gateway/janus.js"),
          "adapter.js": Path("/usr/share/javascript/webrtc-adapter/adapter.js")}


async def vendor(request: Request) -> Response:
    path = VENDOR.get(request.path_params["name"])
    if path is None or not path.is_file():
        return error(404, f"{request.path_params['name']} is not installed (Debian packages "
                          "libjs-janus-gateway and libjs-webrtc-adapter; scripts/setup.sh)")
    return FileResponse(path, media_type="text/javascript")


async def api_janus(request: Request) -> Response:
    """What the Janus page needs: the Janus API URL and room (config.janus: the [janus]
    table, INTERPRES_JANUS_URL over it) and TURN servers. Never Janus's API secret: give
    browsers token auth, or the secret in the invitation link (?apisecret=)."""
    state: State = request.app.state.interpres
    janus = state.config.janus
    # The bot reaches Janus at `url` (often 127.0.0.1); browsers at `public_url`.
    return JSONResponse({"url": janus.get("public_url") or janus.get("url"),
                         "room": janus.get("room"),
                         "iceServers": ice_servers(state.config.turn, "guest"),
                         "privacy": privacy_text(state.store)},
                        headers={"Cache-Control": "no-store"})


async def janus_interpreter(request: Request) -> Response:
    """A page in Janus room N wants `lang`: put the interpreter in that room (or add the
    language). Gated like a join: draining, per-address rate, origin, token for room "N"."""
    state: State = request.app.state.interpres
    raw_room = request.path_params["room"]
    room = _janus_room(raw_room)
    if room is None:
        return error(400, "a Janus room is a positive number")
    try:
        admit(request, state, raw_room)
        body = await read_json(request)
        # Before the language check: until the models are loaded no language is known.
        if not state.ready.is_set() or state.engines is None:
            raise Refused(503, "loading", "models are still loading", **{"Retry-After": "5"})
        if not isinstance(body, dict) or body.get("lang") not in state.listen:
            raise Refused(400, "body", f"lang must be one of {', '.join(state.listen)}")
        pin = body.get("pin")
        if pin is not None and (not isinstance(pin, str) or len(pin) > 128):
            raise Refused(400, "body", "pin must be a string")
        if state.janus_bots is None and state.config.cluster.get("address") and \
                state.config.janus.get("url"):
            if state.cluster_error:
                raise Refused(503, "cluster", f"the Ray cluster is not usable: "
                                              f"{state.cluster_error}")
            raise Refused(503, "loading", "joining the Ray cluster", **{"Retry-After": "5"})
        if state.janus_bots is None:
            raise Refused(404, "janus", "this server has no Janus configured ([janus] url in "
                                        "interpres.toml, or INTERPRES_JANUS_URL)")
    except Refused as refused:
        state.metrics.refuse(refused.reason)
        return error(refused.status, refused.message, **refused.headers)
    try:
        started = await state.janus_bots.ensure(room, body["lang"], pin or None)
    except BotFailed as failure:
        state.metrics.refuse("janus")
        return error(failure.status, str(failure))
    return JSONResponse({"room": room, "lang": body["lang"], "started": started,
                         **state.janus_bots.status().get(room, {})})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    state: State = request.app.state.interpres
    if state.draining:  # a load balancer stops sending joins here
        return JSONResponse({"status": "shutting down"}, status_code=503,
                            headers={"Retry-After": "30"})
    if state.ready.is_set():
        return JSONResponse({"status": "ready"})
    if state.load_error:
        return JSONResponse({"status": "failed", "error": state.load_error}, status_code=503)
    return JSONResponse({"status": "loading models"}, status_code=503,
                        headers={"Retry-After": "5"})


async def api_ice(request: Request) -> Response:
    """ICE servers for a page: TURN credentials minted now, valid an hour at most. With join
    tokens on, only a holder of a valid token for some room gets them."""
    state: State = request.app.state.interpres
    try:
        grant = check_token(request, state, request.query_params.get("room", ""))
    except Refused as refused:
        return error(refused.status, refused.message, **refused.headers)
    user = grant.name if grant is not None else "guest"
    entries = ice_servers(state.config.turn, "".join(ch for ch in user if ch.isalnum())[:32]
                          or "guest")
    ttl = state.config.turn.ttl if state.config.turn else 0
    return JSONResponse({"iceServers": entries, "ttl": ttl},
                        headers={"Cache-Control": "no-store"})


async def api_languages(request: Request) -> Response:
    state: State = request.app.state.interpres
    if not state.ready.is_set():
        return error(503, "models are still loading", **{"Retry-After": "5"})
    return JSONResponse({
        "speak": [{"code": c, "name": languages.name(c)} for c in state.speak],
        "listen": [{"code": c, "name": languages.name(c)} for c in state.listen],
    })


def _offer_fields(body: Any, state: State) -> tuple[str, str, str, str, str]:
    if not isinstance(body, dict):
        raise ValueError((400, "body must be a JSON object"))
    sdp, kind = body.get("sdp"), body.get("type")
    if kind != "offer":
        raise ValueError((400, 'type must be "offer"'))
    name = body.get("name", "Guest")
    if not isinstance(name, str) or not name.strip() or len(name) > 48:
        raise ValueError((400, "name must be 1 to 48 characters"))
    speak = body.get("speak", "auto")
    if speak != "auto" and speak not in state.speak:
        raise ValueError((400, f"speak must be auto or one of {', '.join(state.speak)}"))
    listen = body.get("listen")
    if listen not in state.listen:
        raise ValueError((400, f"listen must be one of {', '.join(state.listen)}"))
    mode = body.get("profanity", "raw")
    if mode not in profanity.MODES:
        raise ValueError((400, f"profanity must be one of {', '.join(profanity.MODES)}"))
    try:
        check_offer(sdp)
    except SdpError as problem:
        raise ValueError((400, f"invalid SDP offer: {problem}")) from None
    return sdp, " ".join(name.split()), speak, listen, mode


async def offer(request: Request) -> Response:
    state: State = request.app.state.interpres
    room_name = request.path_params["room"]
    if not ROOM_NAME.match(room_name):
        return error(400, "room names are 1-64 letters, digits, '.', '-' or '_'")
    try:
        grant = admit(request, state, room_name)
        body = await read_json(request)
        try:
            sdp, name, speak, listen, mode = _offer_fields(body, state)
        except ValueError as problem:
            status, message = problem.args[0]
            raise Refused(status, "body", message) from None
        if not state.ready.is_set() or state.engines is None:
            raise Refused(503, "loading", "models are still loading", **{"Retry-After": "5"})
        if len(state.peer_connections) >= state.config.max_peers:
            raise Refused(503, "capacity", "the server is full; try again later",
                          **{"Retry-After": "30"})
        existing = state.rooms.rooms.get(room_name)
        if existing is not None and len(existing.participants) >= state.config.max_room_size:
            raise Refused(409, "room-full", f"room {room_name} is full "
                                            f"({state.config.max_room_size} participants)")
    except Refused as refused:
        state.metrics.refuse(refused.reason)
        return error(refused.status, refused.message, **refused.headers)
    if grant is not None:
        name = grant.name  # the invitation names the person; the form cannot override it

    engines = state.engines
    room = state.rooms.get(room_name, lambda n: LocalRoom(
        n, engines, state.store, set(state.listen), set(state.speak),
        on_empty=state.rooms.discard, heartbeat_timeout=state.config.heartbeat_timeout,
        allowed_languages=state.config.asr_allowed, phrases=state.room_phrases(n),
        lead_seconds=state.config.asr_lead_seconds))
    # No ICE servers unless configured: aiortc would otherwise reach for a public STUN server.
    pc = RTCPeerConnection(RTCConfiguration(
        iceServers=aiortc_servers(state.config.turn, "interpres-bot")))
    state.peer_connections.add(pc)

    @pc.on("connectionstatechange")
    def forget_closed() -> None:
        if pc.connectionState == "closed":
            state.peer_connections.discard(pc)

    participant = None
    try:
        with adopting_connect_tasks():
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        set_audio_prefetch(pc, state.config.jitter_frames)
        participant = await room.join(pc, name, speak, listen,
                                      can_speak=grant is None or grant.speak, profanity=mode)
        with adopting_connect_tasks():
            await pc.setLocalDescription(await pc.createAnswer())
    except Exception as problem:  # aiortc raises many types for bad SDP: all are a 400
        log.info("offer refused: %s", type(problem).__name__)
        if participant is not None:
            await room.leave(participant)
        else:
            await close_quietly(pc)
            if not room.participants:
                state.rooms.discard(room)
        state.peer_connections.discard(pc)
        return error(400, f"could not negotiate: {problem}")
    return JSONResponse({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type,
                         "participant": participant.id, "room": room_name,
                         "name": name, "speak": participant.can_speak})


async def metrics(request: Request) -> Response:
    state: State = request.app.state.interpres
    return Response(state.metrics.exposition(), media_type=prometheus.CONTENT_TYPE)


async def transcript(request: Request) -> Response:
    room_name = request.path_params["room"]
    if not ROOM_NAME.match(room_name):
        return error(400, "invalid room name")
    return await _transcript(request, room_name, room_name)


async def janus_interpreter_status(request: Request) -> Response:
    """The interpreter of Janus room N: its languages and people, and on a cluster the node
    it runs on, how often it was restarted and which recognition replicas served it. Same
    token as asking for it."""
    state: State = request.app.state.interpres
    raw_room = request.path_params["room"]
    room = _janus_room(raw_room)
    if room is None:
        return error(400, "a Janus room is a positive number")
    refused = _refused_token(request, state, raw_room)
    if refused is not None:
        return refused
    status = state.janus_bots.status().get(room) if state.janus_bots is not None else None
    if status is None:
        return error(404, f"no interpreter in Janus room {room}")
    return JSONResponse({"room": room, **status})


async def janus_transcript(request: Request) -> Response:
    """A Janus room's transcript: the finals its interpreter stored, under "janus-<room>";
    the token is the one for the room's number, as for asking for the interpreter."""
    raw_room = request.path_params["room"]
    room = _janus_room(raw_room)
    if room is None:
        return error(400, "a Janus room is a positive number")
    return await _transcript(request, f"janus-{room}", raw_room)


def _refused_token(request: Request, state: State, room: str) -> Response | None:
    """The error response when the request's token does not open `room`, else None."""
    try:
        check_token(request, state, room)
    except Refused as refused:
        state.metrics.refuse(refused.reason)
        return error(refused.status, refused.message, **refused.headers)
    return None


def _janus_room(raw: str) -> int | None:
    """A Janus room number from a path (Janus's ids fit in a JavaScript number)."""
    return int(raw) if raw.isdigit() and 0 < int(raw) < 2**53 else None


async def _transcript(request: Request, room_name: str, token_room: str) -> Response:
    state: State = request.app.state.interpres
    refused = _refused_token(request, state, token_room)
    if refused is not None:
        return refused
    if state.store is None:
        return error(404, "transcripts are disabled on this server")
    fmt = request.query_params.get("format", "vtt")
    if fmt not in FORMATS:
        return error(400, f"format must be one of {', '.join(FORMATS)}")
    lang = request.query_params.get("lang")
    if lang is None:
        found = state.store.languages(room_name)
        return JSONResponse({"room": room_name, "languages": found})
    mode = request.query_params.get("profanity", "raw")
    if mode not in profanity.MODES:
        return error(400, f"profanity must be one of {', '.join(profanity.MODES)}")
    media_type, body = state.store.export(
        room_name, lang, fmt,
        rewrite=None if mode == "raw" else lambda text: profanity.apply(text, lang, mode))
    filename = f"{room_name}-{lang}.{fmt}"
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def api_phrases(request: Request) -> Response:
    """GET: the room's phrase list. PUT: replace it (JSON, a list or {"phrases": [...]});
    with tokens on, only a token for the room that may speak may change it."""
    state: State = request.app.state.interpres
    room_name = request.path_params["room"]
    if not ROOM_NAME.match(room_name):
        return error(400, "room names are 1-64 letters, digits, '.', '-' or '_'")
    try:
        grant = check_token(request, state, room_name)
        if request.method == "PUT":
            if grant is not None and not grant.speak:
                raise Refused(403, "auth", "a listen-only invitation cannot change the "
                                           "room's phrase list")
            check_origin(request, state.config.allowed_origins)
            address = request.client.host if request.client else "unknown"
            wait = state.phrase_edits.acquire(address, time.monotonic())
            if wait:
                raise Refused(429, "rate", "too many phrase list changes; try again shortly",
                              **{"Retry-After": str(math.ceil(wait))})
            body = await read_json(request)
            try:
                new = parse_phrases(body)
            except PhraseError as problem:
                raise Refused(400, "body", str(problem)) from None
            state.set_room_phrases(room_name, new)
            log.info("room %s: phrase list set (%d terms)", room_name, len(new))
    except Refused as refused:
        state.metrics.refuse(refused.reason)
        return error(refused.status, refused.message, **refused.headers)
    return JSONResponse({"room": room_name,
                         "phrases": to_json(state.room_phrases(room_name))})


async def purge_periodically(store: TranscriptStore, every: float = 3600.0) -> None:
    """Apply the retention policy at start-up and then every hour."""
    while True:
        removed = store.purge()
        if removed:
            log.info("removed %d transcript lines past retention", removed)
        await asyncio.sleep(every)


DRAIN_SECONDS = 10.0


async def drain(state: State) -> None:
    """Stop taking joins (503), tell everyone, close every peer connection."""
    state.draining = True
    rooms = list(state.rooms.rooms.values())
    notice = Notice("warning", "server-stopping",
                    "The server is shutting down: captions and interpretation stop now.")
    for room in rooms:
        for participant in list(room.participants.values()):
            participant.send(notice.to_wire())
    if rooms:
        await asyncio.sleep(0.5)  # let the notices leave before the channels close
    await state.rooms.close()
    log.info("drained: %d room(s) closed", len(rooms))


class GracefulServer(uvicorn.Server):
    """uvicorn, draining the rooms on SIGTERM before it stops, and exiting 0 for it.

    uvicorn itself would stop accepting connections at once (a joining browser sees a
    connection error, not a 503), drop peers without a word, and re-raise the signal after
    shutting down, so the exit status would say "killed".
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._draining or self._loop is None:
            super().handle_exit(sig, frame)  # Ctrl-C, or a second SIGTERM: uvicorn's way
            return
        self._draining = True
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._drain()))

    async def _drain(self) -> None:
        app = self.config.app
        state: State | None = getattr(getattr(app, "state", None), "interpres", None)
        if state is not None:
            try:
                await asyncio.wait_for(drain(state), DRAIN_SECONDS)
            except Exception:  # the server must still stop
                log.exception("drain failed")
        self.should_exit = True


def create_app(config: Config | None = None, engines: Engines | None = None,
               store: TranscriptStore | None = None) -> Starlette:
    """The app. Pass `engines` (and `store`) to reuse loaded ones, as tests do; otherwise
    they load in the lifespan."""
    config = config or Config.from_env()
    if config.ice_addresses:
        restrict_host_addresses(list(config.ice_addresses))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_store = store is None
        db = store
        if db is None:
            path = None if config.transcripts == "off" else config.transcripts
            db = TranscriptStore(path, retention_days=config.retention_days)
        state = State(config, engines, db)
        app.state.interpres = state
        quiet_orphaned_send_errors(asyncio.get_running_loop())
        purger = asyncio.create_task(purge_periodically(db)) if db.retention_days else None
        ticker = asyncio.create_task(state.metrics.loop_lag.run())
        loader: asyncio.Task[Engines | None] | None = None
        clustered = bool(config.cluster.get("address") and config.janus.get("url"))
        joining = asyncio.create_task(state.join_cluster()) if clustered else None
        if engines is not None:
            state.set_engines(engines)
        else:
            async def load() -> Engines | None:
                try:
                    loaded = await asyncio.to_thread(Engines.load, config, True, log.info)
                except Exception as problem:  # shown by /readyz and the log, not swallowed
                    state.load_error = f"{type(problem).__name__}: {problem}"
                    log.error("models failed to load: %s", state.load_error)
                    return None
                state.set_engines(loaded)
                log.info("models ready")
                return loaded
            loader = asyncio.create_task(load())
        try:
            yield
        finally:
            if purger is not None:
                purger.cancel()
            ticker.cancel()
            if joining is not None:
                await joining
            if state.janus_bots is not None:
                await state.janus_bots.close()
            if clustered:
                from bot.cluster.connect import leave_cluster

                await asyncio.to_thread(leave_cluster,
                                        config.cluster.get("deploy_recognition", True))
            await state.rooms.close()
            if loader is not None:
                loaded = await loader if not loader.cancelled() else None
                if loaded is not None:
                    loaded.close()
            if own_store:
                db.close()

    return Starlette(
        routes=[
            Route("/", index),
            Route("/janus", janus_page),
            Route("/vendor/{name}", vendor),
            Route("/api/janus", api_janus),
            Route("/api/janus/rooms/{room}/interpreter", janus_interpreter, methods=["POST"]),
            Route("/api/janus/rooms/{room}/interpreter", janus_interpreter_status,
                  methods=["GET"]),
            Route("/api/janus/rooms/{room}/transcript", janus_transcript),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/api/languages", api_languages),
            Route("/api/ice", api_ice),
            Route("/api/rooms/{room}/offer", offer, methods=["POST"]),
            Route("/api/rooms/{room}/transcript", transcript),
            Route("/api/rooms/{room}/phrases", api_phrases, methods=["GET", "PUT"]),
            Mount("/static", StaticFiles(directory=WEB), name="static"),
        ],
        lifespan=lifespan,
    )
