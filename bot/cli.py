"""The `interpres` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot import languages

EXIT_USAGE = 2


class CliError(Exception):
    """A mistake the user can fix; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interpres",
        description="Live interpreter for meetings: speech recognition, translation and "
                    "synthesized voices, offline.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="interpres.toml declaring the models to use (default: "
                             "INTERPRES_CONFIG, else the embedded models)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("doctor", help="show which models, language pairs and voices are usable")

    models = commands.add_parser(
        "models", help="list every engine, model and voice, and the languages each covers",
        description="List the models and voices this setup has (reads no model into memory). "
                    "`interpres models pull NAME` fetches one when the machine is online.")
    model_commands = models.add_subparsers(dest="models_command")
    pull = model_commands.add_parser(
        "pull", help="download a model into the models directory (needs internet)",
        description="Fetch a faster-whisper model (tiny, base, small, medium, large-v3, "
                    "turbo, ...) or a Hugging Face repository (owner/name) into the models "
                    "directory. The only command that downloads anything.")
    pull.add_argument("name", help="a Whisper size such as small or large-v3, or owner/name")

    serve = commands.add_parser(
        "serve", help="start the web server: open the page, join a room, talk",
        description="Serve the meeting page and the built-in room on HTTP.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--cluster", metavar="ADDRESS",
                       help="run Janus room bots and recognition on this Ray cluster "
                            "(\"auto\", HOST:6379 or ray://HOST:10001; [cluster] address "
                            "in interpres.toml; needs the `cluster` extra)")

    token = commands.add_parser(
        "token", help="mint a join token (an invitation) for one person and one room",
        description="Print a signed join token. The secret comes from INTERPRES_TOKEN_SECRET "
                    "or INTERPRES_TOKEN_SECRET_FILE, the same as the server's.")
    token.add_argument("--room", required=True, help="the room the token opens")
    token.add_argument("--name", required=True, help="the name shown to the others")
    token.add_argument("--ttl", type=float, default=3600.0,
                       help="seconds the token stays valid (default 3600)")
    token.add_argument("--listen-only", action="store_true",
                       help="may listen and read, never send audio into the room")
    token.add_argument("--url", default="", metavar="BASE",
                       help="also print an invitation link, e.g. --url https://meet.example.org")

    join = commands.add_parser(
        "join", help="join a room on an SFU as the interpreter (Janus VideoRoom)",
        description="Join a meeting on an SFU as a guest: interpret every publisher and "
                    "publish one interpreter feed per language, with captions.")
    sfus = join.add_subparsers(dest="sfu", required=True)
    janus = sfus.add_parser(
        "janus", help="a Janus VideoRoom",
        description="Join a Janus VideoRoom (HTTP API). Settings not given here come from "
                    "the [janus] table of the configuration file.")
    janus.add_argument("--url", help="Janus's HTTP API, e.g. http://HOST:8088/janus")
    janus.add_argument("--room", type=int, help="the VideoRoom's number")
    janus.add_argument("--pin", help="the room's PIN, if it has one")
    janus.add_argument("--secret", help="Janus's API secret (or INTERPRES_JANUS_SECRET)")
    janus.add_argument("--token", help="a Janus auth token, where Janus uses token auth")
    janus.add_argument("--to", metavar="LANGS",
                       help="languages to interpret into from the start, e.g. en,fr "
                            "(participants may ask for more)")

    listen = commands.add_parser(
        "listen", help="show a room's live captions in this terminal (and play a file into it)",
        description="Join a room of `interpres serve` as a participant and print its live "
                    "captions in one language: finals as lines, the sentence being spoken "
                    "redrawn in place. Ctrl-C leaves.")
    listen.add_argument("url", help="the server, e.g. http://127.0.0.1:8000, or a whole "
                                    "invitation link (…/?room=standup#token=…)")
    listen.add_argument("--room", help="the room (default: the link's ?room=)")
    listen.add_argument("--lang", default="en", help="captions in this language (default en)")
    listen.add_argument("--name", default="Terminal", help="the name the others see")
    listen.add_argument("--token", help="a join token (default: the link's #token=)")
    listen.add_argument("--speak", type=Path, metavar="FILE",
                        help="play this audio file into the room as your microphone")
    listen.add_argument("--speak-lang", default="auto", metavar="LANG",
                        help="the language of --speak's file (default: detect)")
    listen.add_argument("--source", action="store_true",
                        help="also show each speaker's own words")
    listen.add_argument("--profanity", choices=("raw", "masked", "removed"), default="raw",
                        help="swear words as said, masked (f***) or removed")

    translate = commands.add_parser(
        "translate", help="run the streaming pipeline over an audio file",
        description="Feed an audio file through the live pipeline and write captions "
                    "(JSON lines, WebVTT, SRT), the interpretation audio per language and "
                    "a summary with latencies.")
    translate.add_argument("input", type=Path, help="any audio (or video) file FFmpeg reads")
    translate.add_argument("--to", required=True, metavar="LANGS",
                           help="target languages, comma separated, e.g. es,fr")
    translate.add_argument("--from", dest="source", default="auto", metavar="LANG",
                           help="the speaker's language, or 'auto' (default)")
    translate.add_argument("--allowed", default="", metavar="LANGS",
                           help="with --from auto: languages detection may choose from")
    translate.add_argument("--out", type=Path, default=None, metavar="DIR",
                           help="output directory (default: out/<input name>)")
    pace = translate.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true",
                      help="feed at real-time pace, as a live speaker would "
                           "(default when the output is a terminal)")
    pace.add_argument("--fast", action="store_true", help="feed as fast as possible")
    translate.add_argument("--no-speech", action="store_true",
                           help="captions only: do not synthesize the interpretation")
    translate.add_argument("--quiet", action="store_true", help="no captions on the terminal")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.config:
        os.environ["INTERPRES_CONFIG"] = str(args.config)
    if args.command != "models" or getattr(args, "models_command", None) != "pull":
        # Nothing but `models pull` may download: a model name reaching the hub's client
        # by mistake fails instead of fetching gigabytes.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bot.config_file import ConfigError

    try:
        if args.command == "models":
            return models(args)
        if args.command == "doctor":
            from bot.doctor import run_doctor

            return run_doctor()
        if args.command == "translate":
            return translate(args)
        if args.command == "serve":
            return serve(args)
        if args.command == "token":
            return mint_token(args)
        if args.command == "join":
            return join_janus(args)
        if args.command == "listen":
            return listen_room(args)
    except (CliError, ConfigError) as error:
        print(f"interpres: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


def listen_room(args: argparse.Namespace) -> int:
    from bot.client.listen import listen, target

    try:
        where = target(args.url, args.room, args.token)
    except ValueError as error:
        raise CliError(str(error)) from None
    if args.speak is not None and not args.speak.is_file():
        raise CliError(f"--speak: {args.speak} is not a file")
    return asyncio.run(listen(where, args.lang, args.name, args.speak, args.speak_lang,
                              args.source, args.profanity))


def join_janus(args: argparse.Namespace) -> int:
    import signal

    from bot.config import Config
    from bot.janus.api import JanusError, JanusUnreachable
    from bot.janus.room import JanusOptions, JanusRoom
    from bot.models.embedded import ModelUnavailable
    from bot.pipeline.engines import Engines

    logging.getLogger("bot").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    config = Config.from_env()
    file = config.janus
    url = args.url or file.get("url")
    room = args.room or file.get("room")
    if not url or not room:
        raise CliError("say which room: --url http://HOST:8088/janus --room 1234 (or the "
                       "[janus] table of the configuration file)")
    try:
        targets = (tuple(languages.parse_list(args.to)) if args.to
                   else tuple(file.get("to", ())) or ("en",))
    except languages.UnknownLanguage as error:
        raise CliError(str(error)) from None
    if config.ice_addresses:
        from bot.rtc.ice import restrict_host_addresses

        restrict_host_addresses(list(config.ice_addresses))
    options = JanusOptions(
        url=url, room=room, pin=args.pin or file.get("pin") or None,
        api_secret=args.secret or file.get("api_secret") or None,
        token=args.token or file.get("token") or None, targets=targets,
        allowed=config.asr_allowed, turn=config.turn, phrases=config.phrases,
        lead_seconds=config.asr_lead_seconds)
    def say(message: str) -> None:
        print(f"interpres: {message}", file=sys.stderr)

    try:
        engines = Engines.load(config, speech=True, progress=say)
    except ModelUnavailable as error:
        raise CliError(str(error)) from None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        janus_room = JanusRoom(options, engines)
        say(f"joining room {room} on {url}, interpreting into {', '.join(targets)}")
        await janus_room.run(stop)

    try:
        asyncio.run(main())
    except JanusError as error:
        raise CliError(f"Janus refused: {error}") from None
    except JanusUnreachable as error:
        raise CliError(f"cannot reach Janus ({error}): is it running, and is --url its "
                       "HTTP API (http://HOST:8088/janus)?") from None
    finally:
        engines.close()
    return 0


def models(args: argparse.Namespace) -> int:
    from bot.config import Config
    from bot.models.catalog import entries, format_entries

    config = Config.from_env()
    if args.models_command == "pull":
        from bot.models.pull import PullError, pull

        try:
            pull(args.name, config.model_root, lambda m: print(m, file=sys.stderr))
        except PullError as error:
            raise CliError(str(error)) from None
        return 0
    source = f"configuration: {config.config_file}" if config.config_file else \
        "configuration: none (the embedded models; set INTERPRES_CONFIG or --config)"
    print(source)
    print(f"models directory: {config.model_root}\n")
    print(format_entries(entries(config)), end="")
    return 0


def _languages(args: argparse.Namespace) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    try:
        targets = tuple(languages.parse_list(args.to))
        source = None if args.source == "auto" else languages.normalize(args.source)
        allowed = tuple(languages.parse_list(args.allowed)) if args.allowed else ()
    except languages.UnknownLanguage as error:
        raise CliError(str(error)) from None
    if not targets:
        raise CliError("--to needs at least one language, e.g. --to es,fr")
    return source, allowed, targets


def translate(args: argparse.Namespace) -> int:
    from bot.audio_io import AudioFileError, probe_duration
    from bot.config import Config
    from bot.file_translation import FileJob, run_file
    from bot.models.embedded import ModelUnavailable
    from bot.mt.router import NoRoute
    from bot.pipeline.engines import Engines
    from bot.pipeline.interpreter import InterpreterOptions
    from bot.pipeline.recognizer import RecognizerOptions
    from bot.pipeline.session import PipelineOptions

    source, allowed, targets = _languages(args)
    try:
        probe_duration(args.input)
    except AudioFileError as error:
        raise CliError(str(error)) from None
    realtime = args.realtime or (not args.fast and sys.stdout.isatty())
    out_dir = args.out or Path("out") / args.input.stem
    say = (lambda message: print(message, file=sys.stderr)) if not args.quiet else None
    config = Config.from_env()
    allowed = allowed or config.asr_allowed  # --allowed, else INTERPRES_ALLOWED_LANGUAGES
    try:
        engines = Engines.load(config, speech=not args.no_speech, progress=say)
    except ModelUnavailable as error:
        raise CliError(str(error)) from None
    try:
        if not engines.asr.multilingual:
            if source not in (None, "en"):
                raise CliError(f"the ASR model {engines.asr.name} only knows English; "
                               "use INTERPRES_ASR_MODEL=base for other languages")
            source = "en"
        for target in targets:
            if not any(target in engines.router.reachable(lang)
                       for lang in languages.NAMES if lang != target):
                into = sorted({t for lang in ("en", "es") for t in
                               engines.router.reachable(lang)} | {"en", "es"})
                raise CliError(f"no engine translates into {target}; targets available: "
                               f"{', '.join(into)}")
        sources = [source] if source else list(allowed)
        for src in sources:
            for target in targets:
                try:
                    engines.router.route(src, target)
                except NoRoute as error:
                    raise CliError(str(error)) from None
        options = PipelineOptions(
            recognizer=RecognizerOptions(language=source, allowed=allowed,
                                         phrases=config.phrases,
                                         lead_seconds=config.asr_lead_seconds),
            interpreter=InterpreterOptions(targets=targets, speech=not args.no_speech,
                                           phrases=config.phrases))
        job = FileJob(input=args.input, out_dir=out_dir, options=options, realtime=realtime,
                      live_display=not args.quiet)
        try:
            asyncio.run(run_file(job, engines))
        except AudioFileError as error:
            raise CliError(str(error)) from None
    finally:
        engines.close()
    if not args.quiet:
        print(f"wrote {out_dir}{os.sep} (captions.jsonl, .vtt, .srt, "
              f"{'.wav, ' if not args.no_speech else ''}summary.json)", file=sys.stderr)
    return 0


def _secret() -> bytes | None:
    from bot.auth import SecretError, load_secret

    try:
        return load_secret()
    except SecretError as error:
        raise CliError(str(error)) from None


def mint_token(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from bot.auth import TokenAuthority, new_secret

    secret = _secret()
    if secret is None:
        raise CliError("no token secret: set INTERPRES_TOKEN_SECRET (or "
                       "INTERPRES_TOKEN_SECRET_FILE) for both this command and the server, "
                       f"for example to {new_secret()}")
    name = " ".join(args.name.split())
    if not name or len(name) > 48:
        raise CliError("--name must be 1 to 48 characters")
    try:
        token = TokenAuthority(secret).mint(args.room, name, ttl=args.ttl,
                                            listen_only=args.listen_only)
    except ValueError as error:
        raise CliError(str(error)) from None
    print(token)
    if args.url:
        print(f"{args.url.rstrip('/')}/?room={quote(args.room)}#token={token}")
    return 0


def serve(args: argparse.Namespace) -> int:
    import ipaddress

    import uvicorn

    from bot.server import GracefulServer, create_app

    logging.getLogger("bot").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    from bot.config import Config
    from bot.models.catalog import configured_problems

    if args.cluster:
        os.environ["INTERPRES_CLUSTER_ADDRESS"] = args.cluster
    config = Config.from_env()
    if config.cluster.get("address"):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise CliError("a cluster is configured but Ray is not installed: pip install "
                           "'interpres[cluster]' (scripts/setup.sh installs it)") from None
    problems = configured_problems(config)
    if problems:
        raise CliError("the configured models cannot be used:\n  " + "\n  ".join(problems)
                       + "\n(`interpres doctor` checks everything; fix the configuration "
                       "or the model directories)")
    secret = _secret()
    if secret is None and not loopback:
        raise CliError(f"listening on {args.host} needs join tokens: set "
                       "INTERPRES_TOKEN_SECRET (or INTERPRES_TOKEN_SECRET_FILE) and invite "
                       "people with `interpres token --room ROOM --name NAME --url URL`")
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"interpres: serving on http://{shown}:{args.port}/ (models load in the "
          "background; /readyz says when they are ready)", file=sys.stderr)
    if secret is None:
        print("interpres: rooms are open to anyone who can reach this address (a loopback "
              "demo); set INTERPRES_TOKEN_SECRET to require join tokens", file=sys.stderr)
    else:
        print("interpres: join tokens required (`interpres token` mints them)",
              file=sys.stderr)
    config = uvicorn.Config(create_app(), host=args.host, port=args.port, log_level="warning",
                            lifespan="on")
    GracefulServer(config).run()
    return 0
