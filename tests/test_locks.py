"""The run locks of interlake.locks (no Spark): a waiter's one-line error, a dead holder never blocks, URIs unlocked."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from interlake.errors import InterlakeError
from interlake.locks import LockTimeout, exclusive


def test_a_held_lock_makes_a_second_run_wait_then_fail_in_one_line_naming_the_holder(tmp_path):
    lake = str(tmp_path / "lake")
    with exclusive(lake, "ingest-shop", wait="1 hour", setting="ingest.lock_timeout", what="source shop"):
        holder = json.loads((tmp_path / "lake/_locks/ingest-shop.lock").read_text())
        assert holder["pid"] == os.getpid()
        started = time.monotonic()
        with pytest.raises(LockTimeout) as err:
            with exclusive(lake, "ingest-shop", wait="0.6 seconds", setting="ingest.lock_timeout",
                           what="source shop"):
                pytest.fail("entered a lock another run holds")
        assert time.monotonic() - started >= 0.5  # it waited before giving up
        message = str(err.value)
        assert "\n" not in message and isinstance(err.value, InterlakeError)
        assert message.startswith("source shop: another run still holds ")
        assert f"pid {os.getpid()} on " in message and "raise ingest.lock_timeout (0.6 seconds)" in message
        # another name is another lock: a run of another source goes on at once
        with exclusive(lake, "ingest-queue", wait="0 seconds", setting="x", what="source queue"):
            pass
    # released: the next run takes it at once, and the file no longer names the earlier holder
    assert (tmp_path / "lake/_locks/ingest-shop.lock").read_text() == ""
    with exclusive(lake, "ingest-shop", wait="0 seconds", setting="x", what="source shop"):
        pass


def test_a_holder_killed_by_sigkill_never_blocks_the_rerun_that_repairs_it(tmp_path):
    lake = str(tmp_path / "lake")
    code = ("import sys, time; from interlake.locks import exclusive\n"
            "with exclusive(sys.argv[1], 'trending', wait='0 seconds', setting='x', what='trending'):\n"
            "    print('held', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, lake], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeout, match=f"pid {proc.pid} on "):
            with exclusive(lake, "trending", wait="0 seconds", setting="trending.lock_timeout", what="trending"):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with exclusive(lake, "trending", wait="0 seconds", setting="trending.lock_timeout", what="trending"):
        holder = json.loads((tmp_path / "lake/_locks/trending.lock").read_text())
        assert holder["pid"] == os.getpid()


def test_an_object_store_lakehouse_takes_no_local_lock(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with exclusive("s3a://bucket/lake", "ingest-shop", wait="0 seconds", setting="x", what="source shop"):
        with exclusive("s3a://bucket/lake", "ingest-shop", wait="0 seconds", setting="x", what="source shop"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_a_file_uri_lakehouse_is_locked_as_the_folder_it_names(tmp_path):
    """``lakehouse: file:///data/lake`` was taken for an object store and never locked: two overlapping ingest runs
    both took the same new files and wrote their ledger and quarantine rows twice. It is the folder: the same lock
    as the path's, whichever way a config spells it."""
    lake = tmp_path / "lake"
    with exclusive(f"file://{lake}", "ingest-shop", wait="0 seconds", setting="ingest.lock_timeout",
                   what="source shop"):
        assert json.loads((lake / "_locks/ingest-shop.lock").read_text())["pid"] == os.getpid()
        for spelled in (str(lake), f"file:{lake}", f"file://{lake}"):
            with pytest.raises(LockTimeout, match=f"^source shop: another run still holds {lake}/_locks/ingest-shop"):
                with exclusive(spelled, "ingest-shop", wait="0 seconds", setting="ingest.lock_timeout",
                               what="source shop"):
                    pytest.fail(f"entered a lock another run holds, as {spelled}")
