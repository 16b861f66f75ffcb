"""The rebuild in SQL (hub/store/sqlite_fold.py) folds a log to exactly what the Python fold does.

Each test writes a log through the hub, then compares three dumps of every projection table: the
live projections, a rebuild in SQL, and a rebuild by the Python fold (the path PostgreSQL and odd
logs take). Values are binary fractions so that sums grouped differently are still equal."""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
from pathlib import Path

import pytest

import hub.store.sqlite as sqlite_store
from hub.errors import StoreError
from hub.events import Event
from hub.integration import DeviceInfo, EntityInfo, IntegrationContext
from hub.log import EventLog, open_log
from hub.projections import iso_to_us
from hub.store import sqlite_extract, sqlite_fold
from hub.store.base import Backend
from hub.times import to_iso
from tests.core.test_projections import _dump

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00Z
QUARTER = 250_000


async def _rebuilt_both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict, int]:
    """(rebuilt in SQL, rebuilt by the Python fold, seqs the SQL path reported)."""
    async with open_log(str(path), synchronous="normal") as log:
        head = log.head
        assert await log.rebuild() == head
        assert log.fold.position == head
        in_sql = _dump(path)
        states, registry = dict(log.fold.states), dict(log.registry())
    with monkeypatch.context() as m:
        m.setattr(sqlite_store.SqliteBackend, "rebuild_projections", Backend.rebuild_projections)
        async with open_log(str(path), synchronous="normal") as log:
            assert await log.rebuild() == head
            by_python = _dump(path)
            assert dict(log.fold.states) == states and log.registry() == registry
    return in_sql, by_python, head


async def _count_up(log: EventLog, count: int, *, first_second: int = 0) -> None:
    """`count` readings, one a second, over seven sensors."""
    for i in range(count):
        await log.report_state(f"sensor.s{i % 7}", str(i), {}, source="t", time=T0 + (first_second + i) * 1_000_000)


async def _random_house(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    entities = [f"sensor.t{i}" for i in range(6)] + [f"binary_sensor.m{i}" for i in range(4)] + ["light.a", "lock.b"]
    t = T0
    async with open_log(str(path), synchronous="normal") as log:
        ctx = IntegrationContext(log, "demo")
        await ctx.register_entity(EntityInfo("light.a", name="A", area="hall", device=DeviceInfo("d1", name="D")))
        for i in range(2500):
            t += rng.choice((QUARTER, 4 * QUARTER, 3600 * 4 * QUARTER + QUARTER, 30 * 60 * 4 * QUARTER))
            eid = rng.choice(entities)
            roll = rng.random()
            if roll < 0.01:
                await ctx.remove_entity(eid)
            elif roll < 0.02:
                await ctx.register_entity(EntityInfo(eid, name=f"N{i}", area=rng.choice((None, "attic"))))
            elif roll < 0.03:
                # A state removed without removing the entity: no history row, found via entity_events.
                await log.append(Event("state_changed", "t", eid, {"old_state": None, "new_state": None}, time=t))
            elif eid.startswith("sensor"):
                value = rng.choice((str(rng.randrange(-20, 40)), f"{rng.randrange(0, 80) / 4}", "unavailable"))
                await log.report_state(eid, value, {"unit_of_measurement": "°C", "i": i % 3}, source="t", time=t)
            else:
                value = rng.choice(("on", "off", "unknown", "locked"))
                await log.report_state(eid, value, {"über": "ja"} if i % 7 == 0 else {}, source="t", time=t,
                                       force_update=rng.random() < 0.2)


@pytest.mark.parametrize(("chunk", "tail", "readers", "library"), [
    (1_000_000, 25_000, 2, ""), (97, 97, 3, ""), (300, 7, 1, "stdlib"), (300, 7, 2, "stdlib"), (300, 7, 2, "")])
async def test_sql_rebuild_equals_python_fold_and_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       chunk: int, tail: int, readers: int, library: str) -> None:
    # Small chunks carry each entity's last row across chunk boundaries (time in state, first state
    # after a removal) and merge statistics buckets split between chunks; with a smaller `tail`, the
    # chunks grow from it to `chunk` and shrink again at the end. The reader processes extract the
    # chunks in turn, each without the others' rows.
    monkeypatch.setattr(sqlite_store, "REBUILD_CHUNK", chunk)
    monkeypatch.setattr(sqlite_store, "REBUILD_TAIL", tail)
    monkeypatch.setattr(sqlite_store, "REBUILD_READERS", readers)
    monkeypatch.setenv("HUB_EXTRACT_SQLITE", library)  # "": pysqlite3's SQLite where installed
    path = tmp_path / "h.db"
    await _random_house(path, seed=chunk)
    live = _dump(path)
    in_sql, by_python, _ = await _rebuilt_both_ways(path, monkeypatch)
    assert in_sql == by_python
    assert in_sql == live
    assert live["state_time"] and live["stats_hour"] and live["entity_events"] and live["devices"]


async def test_times_written_with_other_offsets_and_no_fraction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "h.db"
    async with open_log(str(path), synchronous="normal") as log:
        for i, (updated, changed) in enumerate([
            ("2026-01-01T02:00:00.999999+02:00", "2026-01-01T02:00:00.999999+02:00"),
            ("2026-01-01T00:30:00-05:30", "2025-12-31T23:00:00+00:00"),
            ("2026-03-01T00:00:00.000001+00:00", None),  # no last_changed: the event's own time
            (None, None),
        ]):
            new = {"state": "on" if i % 2 else "off", "attributes": {}}
            if updated:
                new["last_updated"] = updated
            if changed:
                new["last_changed"] = changed
            await log.append(Event("state_changed", "t", "light.x", {"old_state": None, "new_state": new},
                                   time=T0 + i * 1_000_000_000))
    live = _dump(path)
    in_sql, by_python, _ = await _rebuilt_both_ways(path, monkeypatch)
    assert in_sql == by_python == live
    times = [row[1] for row in live["history"]]
    assert T0 + 999_999 in times and T0 + 2 * 1_000_000_000 + 0 not in times
    assert to_iso(T0 + 3 * 1_000_000_000) and T0 + 3 * 1_000_000_000 in times


def _count_sql_rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """1 for each rebuild the SQL path folded, 0 for each it declined (Python folded it)."""
    calls: list[int] = []
    original = sqlite_store.SqliteBackend.rebuild_projections

    async def counted(self, fold_rows, progress=None):  # type: ignore[no-untyped-def]
        result = await original(self, fold_rows, progress)
        calls.append(0 if result is None else 1)
        return result

    monkeypatch.setattr(sqlite_store.SqliteBackend, "rebuild_projections", counted)
    return calls


@pytest.mark.parametrize("odd", [
    {"state": 21.5, "attributes": {}},  # a number, which Python turns into "21.5"
    {"attributes": {}},  # no state: "unknown"
    {"state": "on", "attributes": {}, "last_updated": "2026-01-01T00:00:00.5+00:00"},  # short fraction
    {"state": "on", "attributes": {}, "last_updated": "2026-01-01T00:00:00Z"},
    {"state": "on", "attributes": ["x"]},
    {"state": {"a": 1}, "attributes": {}},  # an object, which Python turns into "{'a': 1}"
    {"state": "on", "attributes": "{x"},  # a string that starts like an object
])
async def test_a_log_the_sql_does_not_fold_is_folded_by_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 odd: dict) -> None:
    path = tmp_path / "h.db"
    calls = _count_sql_rebuilds(monkeypatch)
    async with open_log(str(path), synchronous="normal") as log:
        for i in range(20):
            await log.report_state("sensor.a", str(i), {}, source="t", time=T0 + i * 1_000_000)
        await log.append(Event("state_changed", "t", "sensor.b", {"old_state": None, "new_state": odd},
                               time=T0 + 50_000_000))
        live = _dump(path)
        await log.rebuild()
        assert _dump(path) == live
    assert calls == [0]  # the SQL path declined, and wrote nothing


async def test_text_states_that_look_like_json_are_folded_in_sql(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The SQL asks json_type() only of states whose text starts like an object or an array: strings
    # such as these are still canonical.
    path = tmp_path / "h.db"
    calls = _count_sql_rebuilds(monkeypatch)
    monkeypatch.setattr(sqlite_store, "REBUILD_CHUNK", 3)  # several chunks: the reader process too
    async with open_log(str(path), synchronous="normal") as log:
        for i, value in enumerate(("{x", "[1]", "{}", "on", "[", "{\"a\": 1}")):
            await log.report_state("sensor.a", value, {"k": "{v"}, source="t", time=T0 + i * 1_000_000)
        live = _dump(path)
        await log.rebuild()
        assert _dump(path) == live
    assert calls == [1]


async def test_a_reader_process_that_dies_fails_the_rebuild_and_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The reader process extracts chunks ahead of the writer; when it ends (here at once), the writer
    # gets its error where it waits for the next chunk, and the transaction is rolled back.
    path = tmp_path / "h.db"
    monkeypatch.setattr(sqlite_store, "REBUILD_CHUNK", 5)
    async with open_log(str(path), synchronous="normal") as log:
        for i in range(40):
            await log.report_state("sensor.a", str(i), {}, source="t", time=T0 + i * 1_000_000)
        live = _dump(path)
        monkeypatch.setattr(sqlite_store.sys, "executable", "/bin/false")  # starts, reads nothing, exits 1
        with pytest.raises(StoreError, match="reader process ended"):
            await log.rebuild()
        assert _dump(path) == live
        monkeypatch.undo()
        monkeypatch.setattr(sqlite_store, "REBUILD_CHUNK", 5)
        assert await log.rebuild() == log.head
        assert _dump(path) == live


async def test_chunks_grow_from_the_smallest_and_shrink_at_the_end(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing overlaps the first extraction or the last fold: both are kept short.
    monkeypatch.setattr(sqlite_store, "REBUILD_CHUNK", 40)
    monkeypatch.setattr(sqlite_store, "REBUILD_TAIL", 5)
    async with open_log(str(tmp_path / "h.db"), synchronous="normal") as log:
        await _count_up(log, 300)
        live = _dump(tmp_path / "h.db")
        done: list[int] = []
        await log.rebuild(lambda upto, head: done.append(upto) if not done or upto > done[-1] else None)
        assert _dump(tmp_path / "h.db") == live
    sizes = [b - a for a, b in zip([0, *done], done, strict=False)]
    assert sum(sizes) == 300 and max(sizes) == 40
    assert sizes[:4] == [5, 10, 20, 40]
    tail = sizes[len(sizes) - sizes[::-1].index(40):]  # after the last whole chunk
    assert tail == sorted(tail, reverse=True) and tail[-1] <= 5 and len(tail) >= 3, sizes


@pytest.mark.parametrize("text", [
    "2026-01-01T00:47:34.008000+00:00", "2026-02-28T23:59:59.999999+00:00", "2028-02-29T12:00:00.000001+00:00",
    "2026-02-29T12:00:00.000001+00:00", "2026-02-30T12:00:00.000000+00:00", "2026-04-31T00:00:00.000000+00:00",
    "2026-12-31T23:59:59.999999+00:00", "2026-01-01T24:00:00.000000+00:00", "2026-01-01T23:60:00.000000+00:00",
    "2026-13-01T00:00:00.000000+00:00", "2026-00-01T00:00:00.000000+00:00", "2026-01-00T00:00:00.000000+00:00",
    "2026-01-01T00:00:00.12a456+00:00", "2026-01-01T00:00:00.123456+15:00", "2026-01-01T00:00:00.123456-05:30",
    "2026-01-01t00:00:00.123456+00:00", "2026-01-01 00:00:00.123456+00:00", "0000-01-01T00:00:00.000000+00:00",
    "-999-01-01T00:00:00.000000+00:00", "2026-01-01T00:00:00+02:00", "2026-W01-1T00:00:00.000000+00:00",
    "2026-01-01T1:00:00.0000000+00:00", "2026-01-01T00:00:00.000000+00:00 ",
])
def test_the_sql_reads_a_time_as_python_does_or_not_at_all(text: str) -> None:
    # `sqlite_fold._us` gives the microseconds Python's fold gives (`iso_to_us`), or NULL or a time
    # before 1970 (`extract` declines both), which sends the log to the Python fold: never another value.
    got = sqlite3.connect(":memory:").execute(f"SELECT {sqlite_fold._us('?1')}", (text,)).fetchone()[0]
    try:
        expected: int | None = iso_to_us(text, -1)
    except ValueError:
        expected = None
    if got is not None and got >= 0:
        assert got == expected
    if expected is not None and expected >= 0 and to_iso(expected) == text:
        assert got == expected  # the form the hub writes is read in SQL


async def test_the_writer_keeps_no_chunk_it_has_folded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each extracted chunk is a serialized database (~16 MB at 250,000 events): once folded, nothing
    # may hold it, or a rebuild of a large log holds the whole log's chunks (861 MB at 10M events).
    monkeypatch.setattr(sqlite_store, "REBUILD_CHUNK", 10)
    monkeypatch.setattr(sqlite_store, "REBUILD_TAIL", 10)
    monkeypatch.setattr(sqlite_store, "REBUILD_AHEAD", 2)
    seen: list[int] = []
    piped = sqlite_store.SqliteBackend._fold_chunks_piped

    async def watched(self, conn, chunks, head, progress):  # type: ignore[no-untyped-def]
        def count(upto: int, head: int) -> None:
            seen.append(len(chunks.pending))
        return await piped(self, conn, chunks, head, count)

    monkeypatch.setattr(sqlite_store.SqliteBackend, "_fold_chunks_piped", watched)
    async with open_log(str(tmp_path / "h.db"), synchronous="normal") as log:
        await _count_up(log, 200)
        assert await log.rebuild() == log.head
    assert len(seen) == 20
    assert max(seen) <= 2 + 1  # the chunks queued for the writer, and one asked for while it folds


def _scratch_files() -> set[str]:
    return {p.name for p in sqlite_extract.SHARED_MEMORY.glob("hub-extract-*")} | {
        p.name for p in Path(tempfile.gettempdir()).glob("hub-extract-*")}


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("library", ["", "stdlib"])
async def test_reader_processes_leave_no_scratch_file_and_no_descriptor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, library: str) -> None:
    # A reader extracts each chunk into a file (in /dev/shm), removes its name and hands the writer
    # its descriptor. Stopped while idle, or while a chunk nobody will read is being extracted (the log
    # turned out not to be canonical), no file is left; the writer closes every descriptor it was
    # handed, folded or not (each holds a chunk's memory while open).
    monkeypatch.setenv("HUB_EXTRACT_SQLITE", library)
    before = _scratch_files()
    monkeypatch.setattr(sqlite_store, "REBUILD_CHUNK", 20)
    monkeypatch.setattr(sqlite_store, "REBUILD_TAIL", 20)
    async with open_log(str(tmp_path / "h.db"), synchronous="normal") as log:
        await _count_up(log, 400)
        live = _dump(tmp_path / "h.db")
        descriptors = _open_descriptors()
        assert await log.rebuild() == log.head
        assert _dump(tmp_path / "h.db") == live
        assert _scratch_files() == before
        assert _open_descriptors() == descriptors
        await log.append(Event("state_changed", "t", "sensor.b", {"old_state": None, "new_state": {"state": 1}},
                               time=T0 + 500_000_000))
        await _count_up(log, 400, first_second=600)
        live = _dump(tmp_path / "h.db")
        descriptors = _open_descriptors()
        assert await log.rebuild() == log.head  # by Python, after the SQL declined the second chunk
        assert _dump(tmp_path / "h.db") == live
        assert _open_descriptors() == descriptors
    assert _scratch_files() == before


async def test_a_rebuild_leaves_the_writer_its_usual_page_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The rebuild takes a larger cache for its own transaction only: the daemon's memory stays bounded.
    monkeypatch.setattr(sqlite_store, "REBUILD_CHUNK", 10)
    async with open_log(str(tmp_path / "h.db"), synchronous="normal") as log:
        await _count_up(log, 50)
        writer = log.backend._writer  # type: ignore[attr-defined]
        seen: list[int] = []
        original = sqlite_fold.fold

        def fold(raw: sqlite3.Connection) -> None:
            seen.append(raw.execute("PRAGMA cache_size").fetchone()[0])
            original(raw)

        monkeypatch.setattr(sqlite_fold, "fold", fold)
        assert await log.rebuild() == log.head
        async with writer.execute("PRAGMA cache_size") as cur:
            assert (await cur.fetchone())[0] == -sqlite_store.CACHE_KIB
    assert seen and set(seen) == {-sqlite_store.REBUILD_CACHE_KIB}
