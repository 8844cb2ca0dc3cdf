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
from typer.testing import CliRunner

from ca_support import make_csr
from tlskit.ca import CAError, CertificateAuthority
from tlskit.ca.check import leftover_temporaries
from tlskit.cli.main import app

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


# -- the CA's own files and the index/files commit (issue 15, fixes 1 and 3) ---------------


@pytest.mark.parametrize("target", ["root.key", "root.crt", "intermediate.key", "ca.json", "index.sqlite"])
def test_root_out_never_overwrites_a_ca_file_even_with_force(ca, target):
    from typer.testing import CliRunner

    from tlskit.cli.main import app

    before = (ca.directory / target).read_bytes()
    # Before: `tlskit ca root --out <CA dir>/root.key --force` replaced the root key.
    result = CliRunner().invoke(
        app, ["ca", "root", "--dir", str(ca.directory), "--out", str(ca.directory / target), "--force"]
    )
    assert result.exit_code == 1 and "one of the CA's own files" in result.stderr
    assert (ca.directory / target).read_bytes() == before
    with pytest.raises(CAError, match="CA's own files"):
        ca.write_root(ca.directory / target, force=True)


@pytest.mark.parametrize(
    "victim, damage, expected",
    [
        ("root.key", b"garbage", "root.key: CA key is damaged"),
        ("intermediate.crt", b"", "intermediate.crt: CA certificate is damaged"),
        ("root.crt", None, "root.crt: CA certificate is missing"),
    ],
)
def test_check_names_a_damaged_ca_file(ca, victim, damage, expected):
    path = ca.directory / victim
    if damage is None:
        path.unlink()
    else:
        path.write_bytes(damage)
    problems = CertificateAuthority.load(ca.directory).check()
    assert any(expected in p for p in problems), problems


def test_check_notices_a_swapped_ca_key(ca, tmp_path):
    other = CertificateAuthority.init(tmp_path / "other")
    (ca.directory / "intermediate.key").write_bytes((other.directory / "intermediate.key").read_bytes())
    assert any("does not match" in p for p in CertificateAuthority.load(ca.directory).check())


def _failing_write(monkeypatch, errno_value, match):
    """Make writing any file whose name contains ``match`` fail like a read-only or full disk."""
    import errno

    from tlskit.ca import files

    real = files.os.fdopen

    class Failing:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno_value, os.strerror(errno_value))

        def flush(self):
            pass

        def fileno(self):
            return self.handle.fileno()

    def fdopen(fd, mode="r", *args, **kwargs):
        handle = real(fd, mode, *args, **kwargs)
        name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else ""
        return Failing(handle) if match in name else handle

    monkeypatch.setattr(files.os, "fdopen", fdopen)
    return errno


@pytest.mark.parametrize("errno_name, match", [("ENOSPC", ".key."), ("EROFS", ".chain.pem."), ("EDQUOT", ".crt.")])
def test_failed_output_write_records_nothing(ca, tmp_path, monkeypatch, errno_name, match):
    import errno

    out = tmp_path / "out"
    _failing_write(monkeypatch, getattr(errno, errno_name), match)
    # Before: the row was committed first, so a failed key write left a "valid" certificate
    # whose key was never saved (and a full disk gave an internal OSError).
    with pytest.raises(CAError) as info:
        ca.issue("victim.test", out_dir=out)
    assert str(info.value).startswith("cannot write ") and "\n" not in str(info.value)
    assert ca.list() == []
    assert _published(out) == [] and leftover_temporaries(out) == []
    monkeypatch.undo()
    ca.issue("victim.test", out_dir=out)  # nothing blocks the retry
    assert ca.check() == []


def test_full_index_database_is_a_clear_error(ca, tmp_path, monkeypatch):
    import sqlite3

    from tlskit.ca import index as index_module

    real = sqlite3.connect

    def tiny(*args, **kwargs):
        conn = real(*args, **kwargs)
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        return conn

    monkeypatch.setattr(index_module.sqlite3, "connect", tiny)
    out = tmp_path / "out"
    # Before: "cannot rollback - no transaction is active".
    with pytest.raises(CAError, match="full") as info:
        ca.issue("big.test", sans=[f"n{i}.big.test" for i in range(900)], out_dir=out)
    assert "rollback" not in str(info.value)
    monkeypatch.undo()
    assert ca.list() == [] and _published(out) == [] and leftover_temporaries(out) == []


def test_publish_failure_after_commit_takes_the_row_back(ca, tmp_path, monkeypatch):
    from tlskit.ca import files

    real = files.publish
    calls = []

    def publish(tmp, path, *, overwrite):
        calls.append(path)
        if path.name.endswith(".chain.pem"):
            files._unlink_quietly(tmp)
            raise CAError(f"cannot write {path}: Read-only file system")
        return real(tmp, path, overwrite=overwrite)

    monkeypatch.setattr(files, "publish", publish)
    out = tmp_path / "out"
    with pytest.raises(CAError, match="Read-only"):
        ca.issue("victim.test", out_dir=out)
    assert ca.list() == [] and _published(out) == [] and leftover_temporaries(out) == []


def test_check_lists_recorded_certificates_whose_files_are_missing(ca):
    issued = ca.issue("gone.test")
    issued.key_path.unlink()
    problems = ca.check()
    assert len(problems) == 1
    assert f"serial {issued.serial_hex} (gone.test)" in problems[0] and str(issued.key_path) in problems[0]
    ca.revoke("gone.test")
    assert ca.check() == []  # a revoked certificate's files may go


def test_check_clean_removes_a_killed_inits_staging_directory(tmp_path):
    target = tmp_path / "ca"
    proc = _child(target, "init-before-rename", "x", 0, "")
    proc.communicate(timeout=120)
    ca = CertificateAuthority.init(target)
    leftovers = ca.leftovers()
    assert len(leftovers) == 1 and leftovers[0].name.startswith(f".tlskit-ca-init-{proc.pid}-")
    assert ca.remove_leftovers() == leftovers and not leftovers[0].exists()


# -- outputs never clobber what they should not; paths stay right when a CA moves --------

def test_crl_out_never_clobbers_a_file_that_is_not_a_crl(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    issued = ca.issue("victim.test")
    key_before = issued.key_path.read_bytes()
    # Before: crl(out=...) replaced any file, e.g. a private key given by mistake.
    with pytest.raises(CAError, match="not a CRL"):
        ca.crl(out=issued.key_path)
    assert issued.key_path.read_bytes() == key_before
    out = tmp_path / "ca.crl"
    first = ca.crl(out=out)
    second = ca.crl(out=out)  # republishing over an older CRL is the normal case
    assert out.read_bytes() == second != first
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    ca.crl(out=other, force=True)
    assert other.read_bytes().startswith(b"-----BEGIN X509 CRL-----")


def test_cli_crl_out_refuses_without_force(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    runner = CliRunner()
    result = runner.invoke(app, ["ca", "crl", "--dir", str(ca.directory), "--out", str(other)])
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and other.read_text() == "keep me"
    result = runner.invoke(app, ["ca", "crl", "--dir", str(ca.directory), "--out", str(other), "--force"])
    assert result.exit_code == 0


def test_copied_ca_renews_its_own_files_not_the_originals(tmp_path):
    import shutil

    original = CertificateAuthority.init(tmp_path / "ca")
    issued = original.issue("victim.test")
    before = issued.cert_path.read_bytes()
    shutil.copytree(original.directory, tmp_path / "copy")
    copy = CertificateAuthority.load(tmp_path / "copy")
    record = copy.find("victim.test")[-1]
    assert record.cert_path == tmp_path / "copy" / "issued" / "victim.test.crt"
    # Before: the index held absolute paths, so the copy rewrote the original's files.
    renewed = copy.renew("victim.test")
    assert issued.cert_path.read_bytes() == before
    assert renewed.cert_path == tmp_path / "copy" / "issued" / "victim.test.crt"
    assert renewed.cert_path.read_bytes() != before
    assert copy.check() == [] and original.check() == []
    # the refusal to reuse a recorded file name still holds with relative storage
    with pytest.raises(CAError, match="already"):
        copy.issue("victim.test")


def test_files_outside_the_ca_directory_keep_absolute_paths(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    issued = ca.issue("outside.test", out_dir=tmp_path / "elsewhere")
    assert ca.find("outside.test")[-1].key_path == issued.key_path == tmp_path / "elsewhere" / "outside.test.key"
    for suffix in (".key", ".crt", ".chain.pem"):
        (tmp_path / "elsewhere" / f"outside.test{suffix}").unlink()
    with pytest.raises(CAError, match="belongs to an issued certificate"):
        ca.issue("outside.test", out_dir=tmp_path / "elsewhere")


@pytest.mark.parametrize("name", ["root", "intermediate"])
def test_force_never_replaces_the_cas_own_files(tmp_path, name):
    ca = CertificateAuthority.init(tmp_path / "ca")
    own = {p: p.read_bytes() for p in ca.directory.iterdir() if p.is_file() and p.name != "index.sqlite"}
    # Before: `tlskit ca issue root --out <CA dir> --force` replaced root.key and root.crt.
    with pytest.raises(CAError, match="CA's own files"):
        ca.issue(name, sans=["x.test"], out_dir=ca.directory, force=True)
    with pytest.raises(CAError, match="CA's own files"):
        ca.crl(out=ca.directory / "root.key", force=True)
    with pytest.raises(CAError, match="CA's own files"):
        ca.issue("ok.test")
        ca.export_p12("ok.test", ca.directory / "index.sqlite", b"pw", force=True)
    assert {p: p.read_bytes() for p in own} == own
    assert ca.check() == []
    ca.crl(out=ca.crl_path)  # the CA's own CRL file is where crl() writes anyway


def test_sign_out_into_a_missing_directory_delivers_the_certificate(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    out = tmp_path / "new" / "dir" / "web.crt"
    # Before: signed and recorded, then "cannot write": a certificate nobody received,
    # and the recorded path blocked the retry.
    issued = ca.sign_csr(make_csr(), out=out)
    assert out.is_file() and issued.chain_path.is_file()
    assert ca.check() == []


def test_sign_out_naming_a_directory_is_refused_before_signing(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    (tmp_path / "d").mkdir()
    with pytest.raises(CAError, match="is a directory"):
        ca.sign_csr(make_csr(), out=tmp_path / "d", force=True)
    assert ca.list() == []


def test_crl_out_into_a_missing_directory_is_refused_before_a_crl_number_is_used(tmp_path):
    from cryptography import x509

    ca = CertificateAuthority.init(tmp_path / "ca")
    with pytest.raises(CAError, match="does not exist"):
        ca.crl(out=tmp_path / "missing" / "ca.crl")
    assert not ca.crl_path.exists()
    crl = x509.load_pem_x509_crl(ca.crl())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
