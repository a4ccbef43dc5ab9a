"""The case store: one SQLite file holding what every scan of a case computed.

Stage outputs are stored under ``(source sha256, stage, key)``, where the key hashes the
stage's config, the model files and the keys of everything upstream (pipeline.stages). A scan
with a changed config looks each stage up first and recomputes only what is missing, so a
re-tuned ``events:`` section reuses the detection and tracking of every source; a scan killed
at any moment (``kill -9``) resumes from the last stored stage. Only the scan's driver writes;
worker processes (``--workers``, Ray) read, and hand their new stage outputs back to the driver.

Tables (query them with ``sqlite3 DIR/case.sqlite``):

- ``runs``: one row per scan (command, config, output folder, start/finish; no finish =
  interrupted);
- ``sources``: every original seen (sha256, size, the first path it was seen under);
- ``run_sources``: per run and input: status, error, slug, which stages were reused;
- ``stage_outputs`` / ``stage_files``: the stored stage results (zlib-compressed JSON; files
  as bytes: the analysis stage's observations and face candidates as ``.npz`` of plain arrays,
  the faces stage's ``faces.json`` and thumbnails) — what reuse reads;
- ``tracks``: per source and events-stage key, each track's span and attributes (age group);
- ``faces``: per source and faces-stage key, each track's face count, quality and template;
- ``events`` / ``matches``: the events and watch-list matches each run reported;
- ``artifacts``: rendered files (annotated videos, clips, contact sheets) with the key of what
  they show and their sha256, so an unchanged file is not rendered again.

Payloads are JSON and plain arrays (``.npz`` read with ``allow_pickle=False``), never pickle: a
case file handed between investigators must not be able to run code.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.errors import ReuniteError

SCHEMA_VERSION = 1
STORE_NAME = "case.sqlite"
FACES_DOC = "faces.json"  # the faces stage's per-track records, one of its stored files

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, started_utc TEXT NOT NULL, finished_utc TEXT,
    out_dir TEXT NOT NULL, command TEXT, config_hash TEXT, config TEXT, executor TEXT,
    summary TEXT);
CREATE TABLE IF NOT EXISTS sources (
    sha256 TEXT PRIMARY KEY, size_bytes INTEGER, first_path TEXT, first_seen_utc TEXT);
CREATE TABLE IF NOT EXISTS run_sources (
    run_id INTEGER NOT NULL, position INTEGER NOT NULL, path TEXT NOT NULL, sha256 TEXT,
    slug TEXT, status TEXT, error TEXT, stages TEXT, PRIMARY KEY (run_id, position));
CREATE TABLE IF NOT EXISTS stage_outputs (
    sha256 TEXT NOT NULL, stage TEXT NOT NULL, key TEXT NOT NULL, created_utc TEXT NOT NULL,
    seconds REAL, payload BLOB NOT NULL, PRIMARY KEY (sha256, stage, key));
CREATE TABLE IF NOT EXISTS stage_files (
    sha256 TEXT NOT NULL, stage TEXT NOT NULL, key TEXT NOT NULL, relpath TEXT NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY (sha256, stage, key, relpath));
CREATE TABLE IF NOT EXISTS tracks (
    sha256 TEXT NOT NULL, events_key TEXT NOT NULL, track_id INTEGER NOT NULL,
    start_s REAL, end_s REAL, n_observations INTEGER, age_group TEXT, attributes TEXT,
    PRIMARY KEY (sha256, events_key, track_id));
CREATE TABLE IF NOT EXISTS faces (
    sha256 TEXT NOT NULL, faces_key TEXT NOT NULL, track_id INTEGER NOT NULL, n_faces INTEGER,
    quality TEXT, face_px REAL, best_face_s REAL, template TEXT,
    PRIMARY KEY (sha256, faces_key, track_id));
CREATE TABLE IF NOT EXISTS events (
    run_id INTEGER NOT NULL, event_id TEXT NOT NULL, sha256 TEXT, type TEXT, start_s REAL,
    end_s REAL, adult_track INTEGER, child_track TEXT, score REAL, data TEXT,
    PRIMARY KEY (run_id, event_id));
CREATE TABLE IF NOT EXISTS matches (
    run_id INTEGER NOT NULL, match_id TEXT NOT NULL, subject TEXT, sha256 TEXT, track INTEGER,
    start_s REAL, end_s REAL, distance REAL, data TEXT, PRIMARY KEY (run_id, match_id));
CREATE TABLE IF NOT EXISTS artifacts (
    out_dir TEXT NOT NULL, relpath TEXT NOT NULL, key TEXT NOT NULL, sha256 TEXT NOT NULL,
    meta TEXT, PRIMARY KEY (out_dir, relpath));
"""


class StoreError(ReuniteError):
    """The case store cannot be opened or used (not a reunite store, another version)."""


_CHUNK = 1 << 20


def _put_file(con: sqlite3.Connection, key: tuple[str, str, str, str], data: bytes | Path) -> None:
    """One stage file into ``stage_files``: bytes as they are; a path is copied in 1 MiB pieces
    into a blob of its size, so a long source's stage files never sit whole in memory."""
    if isinstance(data, bytes):
        con.execute("INSERT OR REPLACE INTO stage_files VALUES (?, ?, ?, ?, ?)", (*key, data))
        return
    with open(data, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        cur = con.execute("INSERT OR REPLACE INTO stage_files VALUES (?, ?, ?, ?, zeroblob(?))",
                          (*key, size))
        if size == 0:
            return
        with con.blobopen("stage_files", "data", cur.lastrowid) as blob:
            while chunk := fh.read(_CHUNK):
                blob.write(chunk)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _text(s: str | None) -> str | None:
    """A file name as SQLite text: bytes that are not UTF-8 (kept by Python as lone
    surrogates) are written as ``\\xff`` escapes; the exact name is in the manifest."""
    if s is None:
        return None
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _root(out_dir: Path) -> str:
    return _text(str(Path(out_dir).resolve())) or ""


def encode(payload: Any) -> bytes:
    """Compressed JSON. Floats round-trip exactly (``repr``), so results computed from a stored
    payload equal those computed from the live objects; NaN is kept (internal use only)."""
    return zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)


def decode(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60.0,
                              check_same_thread=False)
    else:
        con = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 60000")
    return con


class StoreReader:
    """Read-only lookups, safe to open in any worker process (picklable: holds only the path).

    Args:
        path: the store file; a missing file reads as empty (nothing to reuse).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._con: sqlite3.Connection | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_con": None}

    def _db(self) -> sqlite3.Connection | None:
        if self._con is None and self.path.is_file():
            self._con = _connect(self.path, readonly=True)
        return self._con

    def get(self, sha256: str, stage: str, key: str) -> Any | None:
        """The stored payload of ``stage`` for this source and key, or None."""
        db = self._db()
        if db is None:
            return None
        row = db.execute("SELECT payload FROM stage_outputs WHERE sha256=? AND stage=? AND key=?",
                         (sha256, stage, key)).fetchone()
        return decode(row[0]) if row else None

    def files(self, sha256: str, stage: str, key: str) -> dict[str, bytes]:
        """The files stored with a stage output: relative path → bytes."""
        db = self._db()
        if db is None:
            return {}
        rows = db.execute(
            "SELECT relpath, data FROM stage_files WHERE sha256=? AND stage=? AND key=?",
            (sha256, stage, key)).fetchall()
        return {r: bytes(d) for r, d in rows}

    def artifact(self, out_dir: Path, relpath: str) -> tuple[str, str, Any] | None:
        """(key, sha256, meta) recorded for a rendered file in ``out_dir``, or None."""
        db = self._db()
        if db is None:
            return None
        row = db.execute("SELECT key, sha256, meta FROM artifacts WHERE out_dir=? AND relpath=?",
                         (_root(out_dir), relpath)).fetchone()
        return (row[0], row[1], json.loads(row[2]) if row[2] else None) if row else None

    def fresh_artifact(self, out_dir: Path, relpath: str, key: str) -> tuple[Any, str] | None:
        """(recorded meta, ``{}`` when none; sha256) of a rendered file that can stand for
        ``out_dir/relpath``, rendered from the same inputs (``key``), else None.

        The file already there is kept when its sha256 is the recorded one; otherwise an
        unchanged copy rendered into another output folder of this case is copied in (a
        tuned rescan into a new folder does not re-render what did not change). The caller
        records the artifact for ``out_dir`` again.
        """
        from detectors.models import sha256_file
        from pipeline.outputs.atomic import atomic_path

        db = self._db()
        if db is None:
            return None
        target = Path(out_dir) / relpath
        root = _root(out_dir)
        rows = db.execute("SELECT out_dir, relpath, sha256, meta FROM artifacts WHERE key=? "
                          "ORDER BY (out_dir = ? AND relpath = ?) DESC", (key, root, relpath)).fetchall()
        for o, rel, digest, meta in rows:
            src = (Path(out_dir) if o == root else Path(o)) / rel
            try:
                if not src.is_file() or sha256_file(src) != digest:
                    continue
                if src.resolve() != target.resolve():
                    with atomic_path(target) as tmp:
                        shutil.copyfile(src, tmp)
            except OSError:
                continue
            found = json.loads(meta) if meta else None
            return ({} if found is None else found), digest
        return None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


class CaseStore(StoreReader):
    """The writable store, held by the scan's driver only.

    Raises:
        StoreError: the file is not a SQLite database, or a store of another schema version.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        try:
            con = _connect(self.path, readonly=False)
            if new:
                os.chmod(self.path, 0o600)
            con.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a committed stage survives a killed process (kill -9); only a power
            # cut can lose the last commits, never corrupt the file.
            con.execute("PRAGMA synchronous = NORMAL")
            con.executescript(_SCHEMA)
            row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"case store {self.path}: not a usable SQLite file ({exc})") from None
        if row is None:
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise StoreError(
                f"case store {self.path}: schema version {row[0]}, this reunite writes "
                f"{SCHEMA_VERSION}; give a new --store")
        self._con = con

    def __getstate__(self) -> dict[str, Any]:  # pragma: no cover - guard
        raise TypeError("CaseStore is the driver's; hand workers a StoreReader(path)")

    def reader(self) -> StoreReader:
        return StoreReader(self.path)

    def close(self) -> None:
        """Fold the write-ahead log into the file, so the finished case is one file that can
        be copied or handed on (``case.sqlite`` alone, no ``-wal`` beside it)."""
        if self._con is not None:
            try:
                self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError:
                pass  # a reader still holds the log (a worker): the next close folds it
        super().close()

    # -- writes (each one transaction) --------------------------------------------------------

    def start_run(self, out_dir: Path, command: list[str], config_hash: str,
                  config: dict[str, Any], executor: str) -> int:
        cur = self._con.execute(  # type: ignore[union-attr]
            "INSERT INTO runs (started_utc, out_dir, command, config_hash, config, executor) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_now(), _root(out_dir), json.dumps(command), config_hash,
             json.dumps(config), executor))
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, summary: dict[str, Any]) -> None:
        self._con.execute("UPDATE runs SET finished_utc=?, summary=? WHERE run_id=?",  # type: ignore[union-attr]
                          (_now(), json.dumps(summary), run_id))

    def save_source(self, run_id: int, position: int, result: Any,
                    new_stages: list[tuple[str, str, float, Any, dict[str, bytes | Path]]],
                    artifacts: list[tuple[str, str, str, Any]], out_dir: Path) -> None:
        """Record one finished input: its new stage outputs, tracks, artifacts and status.

        Args:
            result: the SourceResult (path, sha256_before, size_bytes, slug, status, error,
                stages).
            new_stages: (stage, key, seconds, payload, files) computed in this run; a file is
                its bytes, or the path of a file to copy in now (an output of the scan, or a
                stage file the worker spilled to disk), streamed in pieces. The faces stage's
                payload may carry ``rows`` for the faces table (track, n_faces, quality,
                face_px, best_face_s, template JSON); they are not kept in the payload.
            artifacts: (relpath, key, sha256, meta) of files rendered in this run.
        """
        con = self._con
        assert con is not None
        sha = result.sha256_before
        with con:  # one transaction: a kill leaves either all of it or none
            con.execute("BEGIN")
            if sha:
                con.execute("INSERT OR IGNORE INTO sources VALUES (?, ?, ?, ?)",
                            (sha, result.size_bytes, _text(result.path), _now()))
            for stage, key, seconds, payload, files in new_stages:
                rows = None
                if stage == "faces":  # the faces table's rows travel with, not in, the payload
                    payload = dict(payload)
                    rows = payload.pop("rows", [])
                con.execute("INSERT OR REPLACE INTO stage_outputs VALUES (?, ?, ?, ?, ?, ?)",
                            (sha, stage, key, _now(), seconds, encode(payload)))
                for rel, data in files.items():
                    _put_file(con, (sha, stage, key, rel), data)
                if stage == "events":
                    con.executemany(
                        "INSERT OR REPLACE INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(sha, key, int(t["track_id"]), t["start_s"], t["end_s"],
                          t["n_observations"], t["attributes"].get("age_group"),
                          json.dumps(t["attributes"])) for t in payload["track_summaries"]])
                if rows:
                    con.executemany("INSERT OR REPLACE INTO faces VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                    [(sha, key, *r) for r in rows])
            root = _root(out_dir)
            con.executemany("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?)",
                            [(root, rel, key, digest, json.dumps(meta))
                             for rel, key, digest, meta in artifacts])
            con.execute("INSERT OR REPLACE INTO run_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, position, _text(result.path), sha, result.slug, result.status,
                         _text(result.error), json.dumps(result.stages)))

    def save_artifacts(self, out_dir: Path, artifacts: list[tuple[str, str, str, Any]]) -> None:
        root = _root(out_dir)
        con = self._con
        assert con is not None
        with con:
            con.execute("BEGIN")
            con.executemany("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?)",
                            [(root, rel, key, digest, json.dumps(meta))
                             for rel, key, digest, meta in artifacts])

    def save_findings(self, run_id: int, events: list[dict[str, Any]],
                      matches: list[dict[str, Any]]) -> None:
        """Replace this run's events and matches with the lists the run reports."""
        con = self._con
        assert con is not None
        with con:
            con.execute("BEGIN")
            con.execute("DELETE FROM events WHERE run_id=?", (run_id,))
            con.execute("DELETE FROM matches WHERE run_id=?", (run_id,))
            con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (run_id, e["id"], e.get("source_sha256"), e["type"], e["start_s"], e["end_s"],
                 e.get("adult_track"), json.dumps(e.get("child_track")), e["score"], json.dumps(e))
                for e in events])
            con.executemany("INSERT INTO matches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (run_id, str(m.get("id") or f"match-{k}"), m.get("subject"),
                 m.get("source_sha256"), m.get("track"), m.get("start_s"), m.get("end_s"),
                 m.get("distance"), json.dumps(m))
                for k, m in enumerate(matches, 1)])
