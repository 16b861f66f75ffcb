"""The `hub` command line: every verb takes -c/--config and --json; user errors are one line, exit 1."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from hub.config import Config, load_config
from hub.errors import ConfigError, HubError, UserError
from hub.events import is_entity_id
from hub.log import EventLog, open_log
from hub.store import EventFilter, backend_for
from hub.times import parse_time_us, to_iso

log = logging.getLogger("hub")

Verb = Callable[[argparse.Namespace, Config], Any]
VERBS: dict[str, Verb] = {}


def verb(name: str) -> Callable[[Verb], Verb]:
    def register(fn: Verb) -> Verb:
        VERBS[name] = fn
        return fn
    return register


def emit(args: argparse.Namespace, key: str, rows: list[Any], human: Callable[[Any], str]) -> None:
    """Print rows as JSON (an object with the list under `key`) or as human text."""
    if args.json:
        print(json.dumps({key: rows}, ensure_ascii=False, default=str))
    else:
        for row in rows:
            print(human(row))


@contextlib.asynccontextmanager
async def reading(config: Config) -> AsyncIterator[EventLog]:
    """The log for reading only: no writer, no projections in memory."""
    backend = backend_for(config.database_url)
    await backend.open(create=False)
    try:
        yield EventLog(backend, project=False)
    finally:
        await backend.close()


# --- verbs ----------------------------------------------------------------------


@verb("run")
def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from hub.daemon import run_daemon

    asyncio.run(run_daemon(config))
    return 0


@verb("check")
def cmd_check(args: argparse.Namespace, config: Config) -> int:
    summary = {"config": str(config.path), "integrations": [c.id for c in config.integration_configs],
               "automations": len(config.automations), "scripts": len(config.scripts),
               "schedules": len(config.schedules), "database": config.database_url}
    if args.json:
        print(json.dumps({"ok": True, "problems": [], **summary}))
    else:
        print(f"{config.path}: ok ({len(summary['integrations'])} integrations, {summary['automations']} "
              f"automations, {summary['scripts']} scripts, {summary['schedules']} schedules)")
    return 0


@verb("state")
def cmd_state(args: argparse.Namespace, config: Config) -> int:
    import fnmatch

    async def go() -> list[dict[str, Any]]:
        async with reading(config) as lg:
            states = await lg.backend.load_states()
        pattern = args.pattern or "*"
        return [s.to_dict(config.hub.tz) for s in sorted(states, key=lambda s: s.entity_id)
                if fnmatch.fnmatchcase(s.entity_id, pattern)]

    rows = asyncio.run(go())
    if not rows and args.pattern and not any(c in args.pattern for c in "*?["):
        raise UserError(f"no entity {args.pattern}")
    width = max((len(r["entity_id"]) for r in rows), default=10)

    def human(r: dict[str, Any]) -> str:
        unit = r["attributes"].get("unit_of_measurement", "")
        return f"{r['entity_id']:<{width}}  {r['state']}{' ' + unit if unit else ''}  (since {r['last_changed']})"

    emit(args, "states", rows, human)
    return 0


@verb("history")
def cmd_history(args: argparse.Namespace, config: Config) -> int:
    if not is_entity_id(args.entity_id):
        raise UserError(f"{args.entity_id!r} is not an entity id (domain.object_id)")
    start = parse_time_us(args.since)
    end = parse_time_us(args.until) if args.until else parse_time_us("now") + 1

    async def go() -> list[dict[str, Any]]:
        async with reading(config) as lg:
            rows = await lg.backend.history(args.entity_id, start, end, args.limit)
        return [{"entity_id": s.entity_id, "state": s.state, "attributes": s.attributes,
                 "last_changed": to_iso(s.last_changed, config.hub.tz),
                 "last_updated": to_iso(s.last_updated, config.hub.tz)} for s in rows]

    rows = asyncio.run(go())
    emit(args, "history", rows, lambda r: f"{r['last_updated']}  {r['state']}")
    return 0


def _filter(args: argparse.Namespace) -> EventFilter:
    flt = EventFilter(limit=args.limit or 1_000_000_000)
    if args.type:
        flt.types = tuple(args.type)
    if args.entity:
        if any(c in args.entity for c in "*?["):
            flt.entity_glob = args.entity
        else:
            flt.entity_id = args.entity
    flt.source = args.source
    if args.since:
        flt.since = parse_time_us(args.since)
    if args.until:
        flt.until = parse_time_us(args.until)
    return flt


def _event_line(e: dict[str, Any]) -> str:
    data = json.dumps(e["data"], ensure_ascii=False, separators=(",", ":"))
    if len(data) > 160:
        data = data[:157] + "..."
    cause = f" <-{e['causation']}" if e["causation"] else ""
    return f"{e['seq']:>8}  {e['time']}  {e['type']:<20} {e['source']:<16} {e['entity_id'] or '-'}{cause}  {data}"


@verb("events")
def cmd_events(args: argparse.Namespace, config: Config) -> int:
    flt = _filter(args)
    tz = config.hub.tz

    def show(event: Any) -> None:
        row = event.to_dict(tz)
        print(json.dumps(row, ensure_ascii=False, default=str) if args.json else _event_line(row), flush=True)

    async def page_all(lg: EventLog) -> int:
        last = 0
        remaining = flt.limit
        while remaining > 0:
            page = await lg.read(dataclasses.replace(flt, after=last, limit=min(remaining, 5000)))
            if not page:
                break
            if args.follow:
                for event in page:
                    show(event)
            else:
                rows.extend(page)
            last = page[-1].seq or last
            remaining -= len(page)
        return last

    rows: list[Any] = []
    if not args.follow:
        async def once() -> None:
            async with reading(config) as lg:
                await page_all(lg)
        asyncio.run(once())
        emit(args, "events", [e.to_dict(tz) for e in rows], _event_line)
        return 0

    async def follow() -> None:
        async with open_log(config.database_url, project=False) as lg:
            last = await page_all(lg)
            sub = lg.follow(max(last, lg.head), types=flt.types, entity_glob=flt.entity_glob or flt.entity_id)
            async for event in sub:
                if flt.source and event.source != flt.source:
                    continue
                show(event)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())
    return 0


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def daemon_running(config: Config) -> bool | None:
    """Whether a daemon holds the SQLite log's lock (None when it cannot be told)."""
    import fcntl
    import os

    url = config.database_url
    if url.startswith("postgres"):
        return None
    lock = Path(url + ".lock")
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@verb("send")
def cmd_send(args: argparse.Namespace, config: Config) -> int:
    from hub import events as ev
    from hub.commands import request_event, send_command
    from hub.events import Event
    from hub.times import parse_duration_us

    data: dict[str, Any] = {}
    for pair in args.data:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"expected key=value, got {pair!r}")
        data[key] = _parse_value(value)
    timeout = parse_duration_us(config.hub.command_timeout) / 1e6 + 2

    async def go() -> tuple[Any, Any]:
        async with open_log(config.database_url, project=False) as lg:
            if daemon_running(config) is False:
                request = await lg.append(request_event(args.command, args.target, data, source="cli"))
                reason = "no hub daemon is running on this database (start it with `hub run`)"
                outcome = await lg.append(Event(ev.COMMAND_FAILED, "cli", request.entity_id, {
                    "command": request.data["command"], "target": request.data["target"], "reason": reason,
                    "duration_ms": 0}, causation=request.seq, correlation=request.correlation))
                return request, outcome
            return await send_command(lg, args.command, args.target, data, source="cli", timeout=timeout)

    request, outcome = asyncio.run(go())
    if outcome is None:
        raise HubError(f"no outcome for command seq {request.seq} within {timeout:g}s (is `hub run` running?)")
    result = {"request": request.to_dict(config.hub.tz), "outcome": outcome.to_dict(config.hub.tz)}
    ok = outcome.type == "command_succeeded"
    if args.json:
        print(json.dumps(result, default=str))
    elif ok:
        print(f"ok: {args.target} {request.data['command']} (seq {request.seq}, "
              f"{outcome.data.get('duration_ms', 0)} ms)")
    if not ok:
        if not args.json:
            print(f"hub: command failed: {outcome.data.get('reason')}", file=sys.stderr)
        return 1
    return 0


@verb("explain")
def cmd_explain(args: argparse.Namespace, config: Config) -> int:
    from hub.explain import change_of, explain, format_chain

    async def go() -> dict[str, Any]:
        async with reading(config) as lg:
            target = args.target.strip()
            if target.isdigit():
                if args.at is not None:
                    raise UserError("--at goes with an entity id (an event's seq names one event already)")
                return await explain(lg, int(target), tz=config.hub.tz)
            if not is_entity_id(target):
                raise UserError(f"{target!r} is neither an event's seq nor an entity id (domain.object_id)")
            # An entity id: its last change, or the one in force at --at.
            at = parse_time_us(args.at) if args.at is not None else None
            return await explain(lg, await change_of(lg, target, at, tz=config.hub.tz), tz=config.hub.tz)

    result = asyncio.run(go())
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(format_chain(result))
    return 0


@verb("rebuild")
def cmd_rebuild(args: argparse.Namespace, config: Config) -> int:
    import time

    async def go() -> tuple[int, float]:
        backend = backend_for(config.database_url)
        async with backend.daemon_lock(config.hub.name):
            lg = EventLog(backend)
            await backend.open(create=False)
            try:
                started = time.perf_counter()
                count = await lg.rebuild()
                return count, time.perf_counter() - started
            finally:
                await backend.close()

    count, seconds = asyncio.run(go())
    rate = count / seconds if seconds > 0 else 0.0
    if args.json:
        print(json.dumps({"events": count, "seconds": round(seconds, 3), "events_per_second": round(rate)}))
    else:
        print(f"rebuilt projections from {count} events in {seconds:.2f}s ({rate:,.0f} events/s)")
    return 0


@verb("backup")
def cmd_backup(args: argparse.Namespace, config: Config) -> int:
    async def go() -> None:
        async with reading(config) as lg:
            await lg.backend.backup(args.path)

    asyncio.run(go())
    if args.json:
        print(json.dumps({"backup": args.path}))
    else:
        print(f"backup written to {args.path}")
    return 0


@verb("verify")
def cmd_verify(args: argparse.Namespace, config: Config) -> int:
    from hub.verify import verify

    async def go() -> dict[str, Any]:
        backend = backend_for(config.database_url)
        return await verify(backend)

    report = asyncio.run(go())
    if args.json:
        print(json.dumps(report))
    else:
        for problem in report["problems"]:
            print(f"problem: {problem}")
        print(("ok: " if report["ok"] else "FAILED: ") + report["summary"])
    return 0 if report["ok"] else 1


@verb("mcp")
def cmd_mcp(args: argparse.Namespace, config: Config) -> int:
    from hub.mcp import run_stdio

    asyncio.run(run_stdio(args.config))
    return 0


@verb("automations test")
def cmd_automations_test(args: argparse.Namespace, config: Config) -> int:
    from automations.replay import format_json, format_text, replay

    async def go() -> Any:
        async with reading(config) as lg:
            return await replay(lg, args.file, parse_time_us(args.since), hub=config.hub)

    report = asyncio.run(go())
    print(format_json(report) if args.json else format_text(report))
    return 0


@verb("migrate")
def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    from hub.migrate import migrate

    source = config.database_url
    if source.startswith("postgres"):
        raise UserError("hub migrate copies an SQLite log: this configuration's database is already PostgreSQL")

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"\rcopied {done:,} of {total:,} events", end="", file=sys.stderr, flush=True)

    report = asyncio.run(migrate(source, args.to, progress=progress))
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(file=sys.stderr)
        info = report.to_dict()
        print(f"migrated {info['events']:,} events to {info['target']} (verified by counts and checksum "
              f"{str(info['checksum'])[:16]}); set hub.database to that URL in config.yaml to use it")
    return 0


@verb("ring login")
def cmd_ring_login(args: argparse.Namespace, config: Config) -> int:
    from integrations.ring import login_from_config

    path = asyncio.run(login_from_config(config, args.id))
    print(f"signed in to Ring; token stored in {path} (readable only by you)")
    return 0


# --- parsing --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default="config.yaml", help="configuration file (default ./config.yaml)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    common.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser = argparse.ArgumentParser(prog="hub", description="An event-sourced home-automation hub.",
                                     parents=[common])
    sub = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    sub.add_parser("run", parents=[common], help="run the daemon")
    sub.add_parser("check", parents=[common], help="validate the configuration and automations")
    p = sub.add_parser("state", parents=[common], help="current states")
    p.add_argument("pattern", nargs="?", help="glob on entity_id, e.g. 'light.*'")
    p = sub.add_parser("history", parents=[common], help="state history of one entity")
    p.add_argument("entity_id")
    p.add_argument("--since", default="24h")
    p.add_argument("--until")
    p.add_argument("--limit", type=int)
    p = sub.add_parser("events", parents=[common], help="the log itself")
    p.add_argument("--type", action="append", help="event type (repeatable)")
    p.add_argument("--entity", help="entity id or glob")
    p.add_argument("--source")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--limit", type=int)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p = sub.add_parser("send", parents=[common], help="request a command and wait for its outcome")
    p.add_argument("target", help="entity id, or an integration id for integration commands")
    p.add_argument("command", help="service name: turn_on, lock, mqtt.publish, ...")
    p.add_argument("data", nargs="*", help="key=value (values parsed as JSON when they can be)")
    p = sub.add_parser("explain", parents=[common], help="the causal chain that led to an event")
    p.add_argument("target", metavar="SEQ|ENTITY", help="an event's seq, or an entity id (its last change)")
    p.add_argument("--at", help="with an entity id: the change in effect at this time (its last one before)")
    sub.add_parser("rebuild", parents=[common], help="drop the projections and rebuild them from the log")
    p = sub.add_parser("backup", parents=[common], help="online backup of the database")
    p.add_argument("path")
    sub.add_parser("verify", parents=[common], help="integrity check of log and projections")
    sub.add_parser("mcp", parents=[common], help="the MCP server over stdio (for Claude Desktop and Code)")
    autos = sub.add_parser("automations", parents=[common], help="automation tools").add_subparsers(
        dest="automations_verb", required=True)
    p = autos.add_parser("test", parents=[common], help="replay recorded history through rules, executing nothing")
    p.add_argument("file", help="a YAML file of automations")
    p.add_argument("--since", default="7d")
    p = sub.add_parser("migrate", parents=[common], help="copy the SQLite log into PostgreSQL (resumable)")
    p.add_argument("--to", required=True, help="postgresql://user@host/db")
    ring = sub.add_parser("ring", parents=[common], help="Ring account").add_subparsers(dest="ring_verb", required=True)
    p = ring.add_parser("login", parents=[common], help="sign in to Ring (asks for the two-factor code)")
    p.add_argument("--id", help="the ring integration's id when there are several")
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else (logging.INFO if args.verb in ("run", "mcp") else logging.WARNING)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # At DEBUG these print raw HTTP headers: session cookies, CSRF and bearer tokens.
    for noisy in ("httpcore", "httpx", "websockets", "asyncssh", "aiohttp", "mcp", "fastmcp", "sse_starlette"):
        logging.getLogger(noisy).setLevel(max(level, logging.INFO) if noisy != "httpx" else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args)
    try:
        config = load_config(args.config)
        name = args.verb + {"ring": f" {getattr(args, 'ring_verb', '')}",
                            "automations": f" {getattr(args, 'automations_verb', '')}"}.get(args.verb, "")
        return int(VERBS[name](args, config) or 0)
    except ConfigError as exc:
        if args.verb == "check" and args.json:
            print(json.dumps({"ok": False, "problems": exc.problems}))
        else:
            for problem in exc.problems:
                print(f"hub: {problem}", file=sys.stderr)
        return 1
    except HubError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except BaseExceptionGroup as group:
        hub_errors = [e for e in _leaves(group) if isinstance(e, HubError)]
        if hub_errors:
            print(f"hub: {hub_errors[0]}", file=sys.stderr)
            return 1
        if any(isinstance(e, BrokenPipeError) for e in _leaves(group)):
            return _reader_gone()
        raise


def _reader_gone() -> int:
    """Standard output's reader went away (`hub events | head`): stop quietly, as other tools do.
    Python would otherwise complain again when it flushes stdout at exit."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(_leaves(inner))
        return out
    return [exc]


if __name__ == "__main__":
    raise SystemExit(main())
