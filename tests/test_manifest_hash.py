"""The manifest's remembered sha256 of big tool files (the ffmpeg binary)."""

from __future__ import annotations

import hashlib
import os

from pipeline.manifest import remembered_sha256, software_versions


def test_remembered_hash_is_the_files_and_follows_every_change(tmp_path):
    f, memo = tmp_path / "tool", tmp_path / "memo" / "h.json"
    f.write_bytes(b"a" * 1000)
    want = hashlib.sha256(b"a" * 1000).hexdigest()
    assert remembered_sha256(f, memo) == want and memo.is_file()
    assert remembered_sha256(f, memo) == want  # from the memo
    # same size, same modification time, other content: the status-change time moved
    st = f.stat()
    f.write_bytes(b"b" * 1000)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert remembered_sha256(f, memo) == hashlib.sha256(b"b" * 1000).hexdigest()
    # a broken memo is ignored (and rewritten)
    memo.write_text("{not json")
    assert remembered_sha256(f, memo) == hashlib.sha256(b"b" * 1000).hexdigest()


def test_memo_that_cannot_be_written_still_hashes(tmp_path):
    f = tmp_path / "tool"
    f.write_bytes(b"x")
    blocked = tmp_path / "file_in_the_way"
    blocked.write_text("")
    assert remembered_sha256(f, blocked / "h.json") == hashlib.sha256(b"x").hexdigest()


def test_software_versions_names_the_encoder_with_its_hash(tmp_path):
    enc = software_versions(tmp_path / "cache")["encoder"]
    with open(enc["ffmpeg"], "rb") as fh:
        assert enc["ffmpeg_sha256"] == hashlib.file_digest(fh, "sha256").hexdigest()
    assert software_versions(tmp_path / "cache")["encoder"] == enc  # the second time from the memo
    assert (tmp_path / "cache" / "file_sha256.json").is_file()
    assert software_versions()["encoder"] == enc  # no cache folder: hashed
