"""The benchmark code works and reports what it claims. These tests never time anything:
they run the benchmark with tiny sizes and check its structure, not its figures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tlskit.bench import certs, pinning, report, runner, stdlib_ssl, wire
from tlskit.cli.main import app

TINY = dict(reps=1, min_time=0.01, bulk_mib=0.0625, memory_pairs=2)


@pytest.fixture(scope="module")
def ecdsa_pki(tmp_path_factory):
    return certs.make_pki(tmp_path_factory.mktemp("pki"), "ecdsa-p256")


def test_stdlib_pair_verifies_chain_and_reports_group(ecdsa_pki):
    pair = stdlib_ssl.handshake(stdlib_ssl.client_context(ecdsa_pki), stdlib_ssl.server_context(ecdsa_pki))
    got = stdlib_ssl.negotiated(pair)
    assert got["version"] == "TLSv1.3"
    assert got["group"] == "x25519"  # OpenSSL's first default group, read from the ServerHello
    assert wire.parse_server_hello(pair.first_server_flight)["cipher_suite"] == got["cipher_suite"]
    stdlib_ssl.bulk_transfer(pair, 4 * 16384, bytes(16384))


def test_wire_ignores_non_server_hello():
    assert wire.parse_server_hello(b"\x17\x03\x03\x00\x10" + bytes(16)) == {"cipher_suite": None, "group": None}


def test_openssl_conf_pins_the_stdlib_suite(ecdsa_pki, tmp_path):
    config = pinning.write_config(tmp_path, "TLS_CHACHA20_POLY1305_SHA256")
    code = (
        "import pathlib, json; from tlskit.bench import certs, stdlib_ssl as s;"
        f"p = certs.load_pki(pathlib.Path({str(ecdsa_pki.ca_file.parent)!r}), 'ecdsa-p256');"
        "print(json.dumps(s.negotiated(s.handshake(s.client_context(p), s.server_context(p)))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=pinning.child_environment(config), capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["cipher_suite"] == "TLS_CHACHA20_POLY1305_SHA256"


def test_planner_skips_what_a_provider_lacks():
    planner = runner.Planner(runner.Options(providers=["pynacl"]), runner._provider_table(["pynacl"]))
    jobs = planner.jobs()
    reasons = {(s["kind"], s["key_type"]): s["reason"] for s in planner.skipped}
    assert "ecdsa_secp256r1_sha256" in reasons[("handshake", "ecdsa-p256")]
    chacha = [sc for sc in jobs[runner.CHACHA20]["scenarios"] if sc["kind"] == "handshake"]
    assert [side["label"] for side in chacha[0]["sides"]] == ["ssl", "tlskit/pynacl", "floor/pynacl"]


def test_quick_run_has_every_section(tmp_path):
    # every part but "servers" and "idle", which have their own smoke tests below
    parts = [part for part in runner.ALL_PARTS if part not in ("servers", "idle")]
    options = runner.Options(providers=["cryptography"], key_types=["ecdsa-p256"], workdir=tmp_path, parts=parts, **TINY)
    result = runner.run(options)
    assert set(result) >= {"meta", "results", "floors", "aead_floors", "memory", "skipped", "peak_rss_kib"}
    assert result["servers"] is None and result["idle"] is None
    kinds = {row["kind"] for row in result["results"]}
    assert kinds == {"handshake", "bulk", "tcp_handshake", "tcp_bulk", "resumption"}
    for row in result["results"]:
        assert {"kind", "unit", "suite", "label", "stack"} <= set(row)
        # A side either measured (with what it negotiated) or says why it could not.
        assert ("median" in row and "negotiated" in row) or "error" in row
        if row["stack"] == "ssl":
            assert row["negotiated"]["cipher_suite"] == row["suite"]
            assert row["negotiated"]["group"] == "x25519"
        if "ratio" in row:
            assert row["ratio"] > 0
    # the TLS 1.2 handshake line: tlskit against ssl, both at TLS 1.2
    tls12 = [row for row in result["results"] if row["suite"] == runner.TLS12_AES128 and row["kind"] == "handshake"]
    assert {row["stack"] for row in tls12} >= {"ssl", "tlskit"}
    assert all(row["negotiated"]["version"] == "TLSv1.2" for row in tls12 if row["stack"] in ("ssl", "tlskit"))
    floor = result["floors"][0]
    assert floor["handshake_us"] > floor["keyexchange_us"] > 0
    assert {f["suite"] for f in result["aead_floors"]} == set(runner.SUITES)
    assert result["peak_rss_kib"]["workers"] > 0
    assert "| case |" in report.to_markdown(result)


def test_cli_json_output(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        app,
        ["bench", "--json", "--only", "floor", "--providers", "cryptography", "--key-types", "ed25519",
         "--reps", "1", "--min-time", "0.01", "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["floors"][0]["key_type"] == "ed25519"
    assert json.loads(out.read_text())["meta"]["providers"] == ["cryptography"]


def test_cli_rejects_unknown_provider():
    result = CliRunner().invoke(app, ["bench", "--providers", "no-such-provider"])
    assert result.exit_code != 0
    assert "no-such-provider" in result.output


def test_plot_without_matplotlib_says_so(tmp_path, monkeypatch):
    # Hide matplotlib whether or not it is installed: None in sys.modules makes import fail.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = CliRunner().invoke(app, ["bench", "--plot", str(tmp_path / "x.png"), "--only", "floor"])
    assert result.exit_code != 0
    assert "matplotlib" in result.output


def test_plot_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    report_data = runner.run(
        runner.Options(providers=["cryptography"], key_types=["ed25519"], parts=["handshake"], workdir=tmp_path, **TINY)
    )
    report.plot(report_data, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interleave_alternates_the_order_of_sides():
    from tlskit.bench.harness import interleave, paired_ratio

    calls = []
    samples = interleave({"a": lambda: calls.append("a") or 2.0, "b": lambda: calls.append("b") or 1.0}, 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert paired_ratio(samples["a"].values, samples["b"].values) == (2.0, 2.0, 2.0)


def test_servers_harness_smoke(tmp_path):
    """The servers part end to end with tiny counts: every server answers, every row is filled (no timing asserted)."""
    pytest.importorskip("matplotlib")
    options = runner.Options(
        providers=["cryptography"], key_types=["ecdsa-p256"], parts=["servers"], server_levels=[1, 2],
        workdir=tmp_path, **TINY,
    )  # fmt: skip
    result = runner.run(options)
    rows = result["servers"]["rows"]
    from tlskit.bench import servers

    assert {(r["impl"], r["metric"], r["concurrency"]) for r in rows} == {
        (impl, metric, level) for impl in servers.IMPLS for metric in ("connections/s", "MB/s") for level in (1, 2)
    }
    for row in rows:
        assert row["median"] > 0 and len(row["values"]) == 1
        if row["impl"] in servers.REFERENCE:
            assert row["reference"] == servers.REFERENCE[row["impl"]] and row["ratio"] > 0
        if row["metric"] == "connections/s":
            # connections completed their handshake and their 1-byte echo (how many depends on the load: not asserted)
            assert row["connections"] >= 1 and row["handshake_ms_p99"] >= row["handshake_ms_p50"] > 0
        assert row["failures"] >= 0
    assert "Servers under concurrency" in report.to_markdown(result)
    report.plot(result, tmp_path / "servers.png")  # only servers: drawn into the path itself
    assert (tmp_path / "servers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_idle_connections_smoke(tmp_path):
    """The idle part end to end with a handful of connections: each asyncio server held
    them all, its RSS was read before, while held and after; no figure is asserted."""
    options = runner.Options(
        providers=["cryptography"], key_types=["ecdsa-p256"], parts=["idle"], idle_connections=5, workdir=tmp_path, **TINY
    )
    result = runner.run(options)
    from tlskit.bench import idle

    rows = {row["impl"]: row for row in result["idle"]["rows"]}
    assert set(rows) == set(idle.IMPLS)
    for row in rows.values():
        assert row["connections"] == row["opened"] == 5 and row["failures"] == 0
        assert row["live_after_close"] == 0  # the server saw every connection go
        assert row["rss_held"] > 0 and row["rss_before"] > 0 and "per_connection_bytes" in row
        assert "capped_by" not in row
    assert rows["tlskit-aio"]["reference"] == "ssl-aio"  # its ratio: only if both RSS grew (5 may not)
    assert "Idle connections held" in report.to_markdown(result)


def test_idle_connections_are_capped_by_the_descriptor_limit(monkeypatch, tmp_path):
    """With fewer descriptors than connections asked for, the run holds what fits and says why."""
    from tlskit.bench import idle

    pki = certs.make_pki(tmp_path / "pki", "ecdsa-p256")
    job = {"provider": "cryptography", "suite": "TLS_AES_128_GCM_SHA256", "group": "x25519", "connections": 50,
           "deadline": 60.0}  # fmt: skip
    row = idle.measure("tlskit-aio", pki, job, driver_fd_limit=idle.FD_MARGIN + 4, progress=lambda message: None)
    assert row["connections"] == 4 and row["requested"] == 50
    assert row["capped_by"] == f"RLIMIT_NOFILE hard limit {idle.FD_MARGIN + 4}"
