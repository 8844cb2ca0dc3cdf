"""Safety rules of the CA store: crash consistency (SIGKILL at every checkpoint and at
random moments), parallel issuance from several processes, and file modes."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from tlskit.ca import CAError, CertificateAuthority
from tlskit.ca.check import leftover_temporaries

# A child process that issues certificates; ``crash_at`` makes it SIGKILL itself at that
# checkpoint of tlskit.ca.authority (the hook is a no-op in normal runs).
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from tlskit.ca import authority
    directory, crash_at, prefix, count, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

    def checkpoint(stage):
        if stage == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    authority._checkpoint = checkpoint
    if crash_at.startswith("init"):
        authority.CertificateAuthority.init(directory)
        sys.exit(0)
    ca = authority.CertificateAuthority.load(directory)
    print("ready", flush=True)
    for i in range(count):
        try:
            issued = ca.issue(f"{prefix}{i}.test", out_dir=out or None)
            print("issued", issued.serial_hex, flush=True)
        except authority.CAError as exc:
            print("refused", exc, flush=True)
    """
)


def _child(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority.init(tmp_path / "ca")


def _published(out) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize(
    "stage, recorded",
    [
        ("issue-key-generated", False),
        ("issue-before-commit", False),  # killed inside the open SQLite transaction
        ("issue-committed", True),
        ("issue-key-written", True),
        ("issue-done", True),
    ],
)
def test_kill_at_each_issue_checkpoint_leaves_consistent_ca(ca, tmp_path, stage, recorded):
    out = tmp_path / "out"
    out.mkdir()
    proc = _child(ca.directory, stage, "victim", 1, out)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    reloaded = CertificateAuthority.load(ca.directory)
    problems = reloaded.check()
    if stage in ("issue-committed", "issue-key-written"):
        # Killed between the commit and publishing: check names the record whose files are missing.
        assert len(problems) == 1 and "files are missing" in problems[0] and "victim0.test" in problems[0]
    else:
        assert problems == []
    records = reloaded.list()
    assert len(records) == (1 if recorded else 0)
    published = _published(out)
    if not recorded:
        # Nothing escaped: no certificate or key the index does not know about.
        assert published == []
    else:
        # Files are published after the commit, key first: whatever is there belongs to the record.
        expected = {
            "issue-committed": [],
            "issue-key-written": ["victim0.test.key"],
            "issue-done": ["victim0.test.chain.pem", "victim0.test.crt", "victim0.test.key"],
        }[stage]
        assert published == expected
    # Leftover temporaries are hidden and private.
    for tmp in leftover_temporaries(out):
        assert stat.S_IMODE(tmp.stat().st_mode) in (0o600, 0o644)
    # The CA is not wedged: the lock was released and issuing goes on.
    reloaded.issue("after.test", out_dir=out)
    assert reloaded.check() == problems


def test_kill_during_init_leaves_no_ca(tmp_path):
    target = tmp_path / "ca"
    proc = _child(target, "init-before-rename", "x", 0, "")
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    # The half-built staging directory is hidden and does not block a new init.
    CertificateAuthority.init(target).issue("ok.test")


def test_sigkill_at_random_moments_keeps_ca_consistent(ca, tmp_path):
    rng = random.Random(1234)
    out = tmp_path / "out"
    out.mkdir()
    for round_number in range(6):
        proc = _child(ca.directory, "never", f"r{round_number}-", 500, out)
        # Wait until the child is past imports, then let it run a random while before the kill.
        assert proc.stdout.readline().strip() == "ready"
        lines_before_kill = rng.randint(0, 15)
        for _ in range(lines_before_kill):
            proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=120)
        problems = CertificateAuthority.load(ca.directory).check()
        # The only damage a kill may leave: a record whose files were not yet published.
        assert all("files are missing" in p for p in problems), f"round {round_number}: {problems}"
        assert len(problems) <= 1, f"round {round_number}: {problems}"
    records = CertificateAuthority.load(ca.directory).list()
    assert len({r.serial for r in records}) == len(records) > 0


def test_parallel_issuance_from_several_processes(ca, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    workers, per_worker = 4, 12
    procs = [_child(ca.directory, "never", f"w{n}-", per_worker, out) for n in range(workers)]
    serials = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        serials += [line.split()[1] for line in stdout.splitlines() if line.startswith("issued")]
    assert len(serials) == workers * per_worker == len(set(serials))
    records = ca.list()
    assert sorted(r.serial for r in records) == sorted(serials)
    assert ca.check() == []
    assert len(_published(out)) == 3 * workers * per_worker


def test_parallel_issuance_of_one_name_has_one_winner(ca, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # Every worker issues "same0.test" into the same directory without --force.
    procs = [_child(ca.directory, "never", "same", 1, out) for _ in range(4)]
    outcomes = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        outcomes += [line.split()[0] for line in stdout.splitlines() if line.split()[0] in ("issued", "refused")]
    assert sorted(outcomes) == ["issued"] + ["refused"] * 3
    (record,) = ca.list()
    assert ca.check() == []
    assert _published(out) == ["same0.test.chain.pem", "same0.test.crt", "same0.test.key"]


def test_key_files_are_never_group_readable_even_with_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        ca = CertificateAuthority.init(tmp_path / "ca")
        issued = ca.issue("web.test")
    finally:
        os.umask(old)
    for key in (ca.directory / "root.key", ca.directory / "intermediate.key", issued.key_path):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(issued.cert_path.stat().st_mode) == 0o644


def test_existing_key_file_is_not_overwritten(ca, tmp_path):
    (tmp_path / "web.test.key").write_text("precious")
    with pytest.raises(CAError, match="already exists"):
        ca.issue("web.test", out_dir=tmp_path)
    assert (tmp_path / "web.test.key").read_text() == "precious"
    assert ca.list() == []


def test_check_clean_removes_temporaries_of_dead_writers(ca, tmp_path):
    from typer.testing import CliRunner

    from tlskit.cli.main import app

    out = tmp_path / "out"
    out.mkdir()
    proc = _child(ca.directory, "issue-done", "victim", 1, out)
    proc.communicate(timeout=120)
    # Fake what a writer killed inside atomic_write leaves: a hidden temporary with its pid.
    dead = out / f".victim0.test.crt.{proc.pid}.abcd1234.tmp"
    dead.write_text("partial")
    live = out / f".other.crt.{os.getpid()}.abcd1234.tmp"
    live.write_text("in progress")
    result = CliRunner().invoke(app, ["ca", "check", "--dir", str(ca.directory), "--clean"])
    assert result.exit_code == 0, result.stderr
    assert f"removed leftover {dead}" in result.stdout
    assert not dead.exists() and live.exists()
    assert f"leftover: {live}" in result.stderr and "1 leftover of" in result.stderr


def test_publishing_without_hard_links_still_refuses_to_clobber(tmp_path, monkeypatch):
    import errno

    from tlskit.ca import files

    def no_link(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", no_link)
    files.atomic_write(tmp_path / "a.key", b"first", private=True)
    assert (tmp_path / "a.key").read_bytes() == b"first"
    assert stat.S_IMODE((tmp_path / "a.key").stat().st_mode) == 0o600
    with pytest.raises(CAError, match="already exists"):
        files.atomic_write(tmp_path / "a.key", b"second", private=True)
    assert (tmp_path / "a.key").read_bytes() == b"first"
    assert leftover_temporaries(tmp_path) == []
