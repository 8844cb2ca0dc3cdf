"""Plan the benchmark, run one pinned worker per suite, gather one report.

The plan is decided here, in the parent, from what each provider offers: a
measurement a provider cannot take part in (pynacl has no AES-128-GCM and no
ECDSA) is listed as skipped with the reason, never silently dropped.
Workers run one after another, never in parallel: on a 2-core machine two
workers would measure each other.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import ssl
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from tlskit.bench import certs, memory, pinning
from tlskit.bench.floor import CHAIN_SIGNATURES, RECORD_SIZE

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.providers.base import Provider

AES128 = "TLS_AES_128_GCM_SHA256"
CHACHA20 = "TLS_CHACHA20_POLY1305_SHA256"
SUITES = (AES128, CHACHA20)
#: the TLS 1.2 reference handshake: the same ECDSA P-256 chain and x25519, AES-128-GCM
TLS12_AES128 = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
KX = "x25519"
HYBRID = "X25519MLKEM768"
#: the reference handshake of the issue: ECDSA P-256 leaf + intermediate, x25519, AES-128-GCM
PRIMARY_KEY_TYPE = "ecdsa-p256"

#: "servers": tlskit's asyncio and blocking servers against the stdlib's under concurrency (tlskit.bench.servers);
#: "idle": the RSS of an asyncio server holding many idle connections (tlskit.bench.idle)
ALL_PARTS = ("handshake", "bulk", "tcp", "floor", "memory", "resumption", "servers", "idle")


@dataclass
class Options:
    providers: list[str] | None = None  # None: every available provider
    reps: int = 5
    min_time: float = 0.5  # seconds per repetition of a rate measurement
    bulk_mib: float = 64.0
    tcp_bulk_mib: float | None = None  # None: same as bulk_mib
    key_types: list[str] = field(default_factory=lambda: list(certs.KEY_TYPES))
    parts: list[str] = field(default_factory=lambda: list(ALL_PARTS))
    memory_pairs: int = 32
    server_levels: list[int] = field(default_factory=lambda: [1, 10, 100, 1000])  # concurrent clients
    idle_connections: int = 10_000  # idle connections held by each asyncio server ("idle" part)
    idle_deadline: float = 300.0  # seconds each server gets to accept them (then: what it holds)
    workdir: pathlib.Path | None = None
    verbose: bool = False


def _provider_table(names: list[str]) -> dict[str, Provider]:
    from tlskit.providers import get_provider

    return {name: get_provider(name) for name in names}


def _lacks(provider: Provider, suite: str, group: str, key_type: str | None) -> list[str]:
    from tlskit.engine.tls12.suites import SUITE_TABLE, provider_suites

    offered = provider_suites(provider) if suite in SUITE_TABLE else provider.cipher_suites
    missing = [suite] if suite not in offered else []
    if group not in provider.groups:
        missing.append(group)
    if key_type is not None:
        for scheme in (certs.KEY_TYPES[key_type], certs.CERT_SIGNATURE_SCHEMES[key_type]):
            if scheme not in provider.signature_schemes and scheme not in missing:
                missing.append(scheme)
    return missing


class Planner:
    def __init__(self, options: Options, providers: dict[str, Provider]) -> None:
        self.options = options
        self.providers = providers
        self.skipped: list[dict[str, Any]] = []

    def _skip(self, kind: str, suite: str, label: str, key_type: str | None, reason: str) -> None:
        self.skipped.append({"kind": kind, "suite": suite, "label": label, "key_type": key_type, "reason": reason})

    def _tlskit_side(
        self, kind: str, suite: str, name: str, key_type: str, group: str = KX, reference: str = "ssl"
    ) -> dict[str, Any] | None:
        missing = _lacks(self.providers[name], suite, group, key_type)
        label = f"tlskit/{name}" + (f"+{group}" if group != KX else "")
        if missing:
            self._skip(kind, suite, label, key_type, f"{name} lacks {', '.join(missing)}")
            return None
        return {"label": label, "stack": "tlskit", "provider": name, "key_type": key_type, "group": group,
                "reference": reference}  # fmt: skip

    @staticmethod
    def _floor_side(side: dict[str, Any]) -> dict[str, Any]:
        """The provider's public-key operations of one handshake, interleaved with the stacks."""
        label = side["label"].replace("tlskit/", "floor/", 1)
        side["raw_reference"] = label
        return {"label": label, "stack": "floor", "provider": side["provider"], "key_type": side["key_type"],
                "group": side["group"], "reference": None}  # fmt: skip

    def _bulk_key_type(self, name: str, suite: str) -> str | None:
        # Any certificate will do for bulk; take the first the provider can verify.
        for key_type in (PRIMARY_KEY_TYPE, "ed25519", "rsa-2048"):
            if not _lacks(self.providers[name], suite, KX, key_type):
                return key_type
        return None

    def _scenario(
        self, kind: str, suite: str, key_type: str, title: str, hybrid: bool = False, verdict_cache: bool = False
    ) -> dict[str, Any]:
        sides: list[dict[str, Any]] = [{"label": "ssl", "stack": "ssl", "key_type": key_type, "group": KX}]
        for name in self.providers:
            if kind in ("bulk", "tcp_bulk"):
                chosen = self._bulk_key_type(name, suite)
                if chosen is None:
                    self._skip(kind, suite, f"tlskit/{name}", None, f"{name} lacks {suite} or any bench certificate type")
                    continue
                side = self._tlskit_side(kind, suite, name, chosen)
            else:
                side = self._tlskit_side(kind, suite, name, key_type)
            if side is None:
                continue
            sides.append(side)
            if kind == "handshake":
                sides.append(self._floor_side(side))
            if verdict_cache:
                # The same handshake with the client's opt-in CA-signature verdict cache
                # (ClientConfig(verify_cache=True)): a separate line, never the like-for-like one.
                cached = {**side, "label": f"{side['label']} + verdict cache", "verify_cache": True}
                cached.pop("raw_reference", None)  # below the public-key floor by design
                sides.append(cached)
            if hybrid:
                pq = self._tlskit_side(kind, suite, name, key_type, group=HYBRID, reference=side["label"])
                if pq is not None:
                    sides.append(pq)
                    sides.append(self._floor_side(pq))
            if kind == "bulk":
                # The provider's AEAD alone on the same records, interleaved with the stacks.
                side["raw_reference"] = f"raw/{name}"
                sides.append({"label": f"raw/{name}", "stack": "raw", "provider": name, "key_type": "-",
                              "group": "-", "reference": None})  # fmt: skip
        return {"kind": kind, "title": title, "sides": sides}

    def _resumption_scenario(self) -> dict[str, Any]:
        """Resumed handshakes: ssl, tlskit with psk_dhe_ke and psk_ke, and tlskit's own full
        handshake (tickets on, as in the resumed case) that psk_ke is also compared with."""
        key_type = PRIMARY_KEY_TYPE if PRIMARY_KEY_TYPE in self.options.key_types else self.options.key_types[0]
        sides: list[dict[str, Any]] = [{"label": "ssl", "stack": "ssl", "key_type": key_type, "group": KX, "mode": "psk_dhe_ke"}]
        for name in self.providers:
            side = self._tlskit_side("resumption", AES128, name, key_type)
            if side is None:
                continue
            sides.append({**side, "mode": "psk_dhe_ke"})
            sides.append({**side, "label": f"{side['label']}+psk_ke", "mode": "psk_ke", "raw_reference": f"full/{name}"})
            sides.append({**side, "label": f"full/{name}", "mode": "full", "reference": None})
        return {"kind": "resumption", "title": f"resumption {key_type}", "sides": sides}

    def jobs(self) -> dict[str, dict]:
        opts = self.options
        parts = set(opts.parts)
        scenarios: dict[str, list[dict]] = {suite: [] for suite in (*SUITES, TLS12_AES128)}
        floors: list[dict] = []
        aead_floors: list[dict] = []
        memory_specs: dict[str, list[dict]] = {suite: [] for suite in SUITES}
        if "handshake" in parts:
            for key_type in opts.key_types:
                scenarios[AES128].append(
                    self._scenario(
                        "handshake", AES128, key_type, key_type, hybrid=key_type == PRIMARY_KEY_TYPE,
                        verdict_cache=key_type == PRIMARY_KEY_TYPE,
                    )
                )
            if "ed25519" in opts.key_types:
                # pynacl has no AES-128-GCM: its Ed25519 handshake (and the cryptography
                # one it is compared with) runs under ChaCha20-Poly1305.
                scenarios[CHACHA20].append(self._scenario("handshake", CHACHA20, "ed25519", "ed25519"))
            if PRIMARY_KEY_TYPE in opts.key_types:
                # TLS 1.2 full handshakes, tlskit against ssl at TLS 1.2 (issue 12)
                scenarios[TLS12_AES128].append(self._scenario("handshake", TLS12_AES128, PRIMARY_KEY_TYPE, PRIMARY_KEY_TYPE))
        if "resumption" in parts:
            scenarios[AES128].append(self._resumption_scenario())
        if "bulk" in parts:
            for suite in SUITES:
                scenarios[suite].append(self._scenario("bulk", suite, PRIMARY_KEY_TYPE, suite))
        if "tcp" in parts:
            scenarios[AES128].append(self._scenario("tcp_handshake", AES128, PRIMARY_KEY_TYPE, PRIMARY_KEY_TYPE))
            scenarios[AES128].append(self._scenario("tcp_bulk", AES128, PRIMARY_KEY_TYPE, AES128))
            if "ed25519" in opts.key_types:
                # As in memory: the only TCP figures pynacl can take part in.
                scenarios[CHACHA20].append(self._scenario("tcp_handshake", CHACHA20, "ed25519", "ed25519"))
                scenarios[CHACHA20].append(self._scenario("tcp_bulk", CHACHA20, PRIMARY_KEY_TYPE, CHACHA20))
        if "floor" in parts:
            for name, provider in self.providers.items():
                for key_type in opts.key_types:
                    for group in (KX, HYBRID) if key_type == PRIMARY_KEY_TYPE else (KX,):
                        missing = _lacks(provider, AES128 if AES128 in provider.cipher_suites else CHACHA20, group, key_type)
                        if missing:
                            self._skip("floor", "-", name, key_type, f"{name} lacks {', '.join(missing)}")
                        else:
                            floors.append({"provider": name, "key_type": key_type, "group": group})
                for suite in SUITES:
                    if suite in provider.cipher_suites:
                        aead_floors.append({"provider": name, "suite": suite})
                    else:
                        self._skip("aead_floor", suite, name, None, f"{name} lacks {suite}")
        if "memory" in parts:
            memory_specs[AES128].append({"stack": "ssl", "key_type": PRIMARY_KEY_TYPE, "group": KX, "label": "ssl"})
            for name in self.providers:
                for suite in SUITES:
                    bulk_key_type = self._bulk_key_type(name, suite)
                    if bulk_key_type is not None:
                        memory_specs[suite].append({"stack": "tlskit", "provider": name, "key_type": bulk_key_type,
                                                    "group": KX, "label": f"tlskit/{name}",
                                                    "count": opts.memory_pairs})  # fmt: skip
                        break
        base = {
            "reps": opts.reps,
            "min_time": opts.min_time,
            "bulk_bytes": _bytes(opts.bulk_mib),
            "tcp_bulk_bytes": _bytes(opts.tcp_bulk_mib if opts.tcp_bulk_mib is not None else opts.bulk_mib),
            "record": RECORD_SIZE,
        }
        jobs: dict[str, dict] = {}
        for suite in (*SUITES, TLS12_AES128):
            job = {**base, "suite": suite, "scenarios": [s for s in scenarios[suite] if s is not None]}
            if suite == AES128:  # floors do not depend on the pin; measure them once
                job["floors"], job["aead_floors"] = floors, aead_floors
            if job["scenarios"] or job.get("floors") or job.get("aead_floors"):
                jobs[suite] = job
        for suite, specs in memory_specs.items():
            # Each memory figure in a fresh process: a process that has already made
            # and freed many connections reuses that memory, hiding the RSS growth.
            for spec in specs:
                jobs[f"memory-{spec['label'].replace('/', '-')}"] = {**base, "suite": suite, "memory": [spec]}
        return jobs


def _bytes(mib: float) -> int:
    # Whole 16 KiB records, at least one.
    return max(RECORD_SIZE, int(mib * (1 << 20)) // RECORD_SIZE * RECORD_SIZE)


def _versions(providers: dict[str, Provider]) -> dict[str, str]:
    versions = {"python": platform.python_version(), "ssl": ssl.OPENSSL_VERSION}
    for provider in providers.values():
        versions.update(getattr(provider, "versions", {}) or {})
    return versions


def _command_line() -> str:
    """How this run was started, as a reader would type it again."""
    argv = list(sys.argv)
    if not argv or not argv[0]:
        return "tlskit bench"
    if os.path.basename(argv[0]) == "tlskit":
        return " ".join(["tlskit", *argv[1:]])
    if argv[0].endswith(".py"):
        return " ".join(["python", *argv])
    return "tlskit bench"


def _concurrency_provider(options: Options) -> str:
    """cryptography unless --providers leaves it out (then the first one chosen)."""
    return "cryptography" if not options.providers or "cryptography" in options.providers else options.providers[0]


def _run_driver(module: str, name: str, job: dict, workdir: pathlib.Path) -> dict:
    """Run ``python -m tlskit.bench.<module> drive JOB`` pinned to the benchmark's suite and
    group (clients in that process, servers in its children) and return its result."""
    job = {"pki_dir": str(workdir / "pki"), "key_type": PRIMARY_KEY_TYPE, "suite": AES128, "group": KX,
           **job, "output": str(workdir / f"result-{module}.json")}  # fmt: skip
    job_file = workdir / f"job-{module}.json"
    job_file.write_text(json.dumps(job, indent=1))
    completed = subprocess.run(
        [sys.executable, "-m", f"tlskit.bench.{module}", "drive", str(job_file)],
        env=pinning.child_environment(pinning.write_config(workdir, AES128, KX)),
        stderr=None if job.get("verbose") else subprocess.PIPE,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the {name} driver failed:\n{completed.stderr or ''}")
    return json.loads(pathlib.Path(job["output"]).read_text())


def _run_servers(options: Options, workdir: pathlib.Path, progress: Callable[[str], None]) -> dict:
    """The servers-under-concurrency figures."""
    progress(f"measuring servers at {', '.join(map(str, options.server_levels))} concurrent clients")
    job = {"provider": _concurrency_provider(options), "duration": options.min_time, "reps": options.reps,
           "levels": options.server_levels, "verbose": options.verbose}  # fmt: skip
    return _run_driver("servers", "servers", job, workdir)


def _run_idle(options: Options, workdir: pathlib.Path, progress: Callable[[str], None]) -> dict:
    """The idle-connections figures."""
    progress(f"measuring {options.idle_connections} idle connections held by each asyncio server")
    job = {"provider": _concurrency_provider(options), "connections": options.idle_connections,
           "deadline": options.idle_deadline, "verbose": options.verbose}  # fmt: skip
    return _run_driver("idle", "idle-connections", job, workdir)


def run(options: Options, progress: Callable[[str], None] = lambda message: None) -> dict:
    """Run the whole benchmark and return the report (a JSON-ready dict)."""
    from tlskit.providers import available_providers

    names = options.providers or available_providers()
    providers = _provider_table(names)
    planner = Planner(options, providers)
    jobs = planner.jobs()
    with tempfile.TemporaryDirectory(prefix="tlskit-bench-") as scratch:
        workdir = pathlib.Path(options.workdir or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        needed = set(options.key_types) | {PRIMARY_KEY_TYPE, "ed25519"}
        for key_type in sorted(needed):
            progress(f"generating the {key_type} chain")
            certs.make_pki(workdir / "pki", key_type)
        results = []
        for name, job in jobs.items():
            suite = job["suite"]
            job["pki_dir"] = str(workdir / "pki")
            job["output"] = str(workdir / f"result-{name}.json")
            job_file = workdir / f"job-{name}.json"
            job_file.write_text(json.dumps(job, indent=1))
            config = pinning.write_config(workdir, suite, KX)
            progress(f"measuring {name} in a worker pinned to {suite}")
            completed = subprocess.run(
                [sys.executable, "-m", "tlskit.bench.worker", str(job_file)],
                env=pinning.child_environment(config),
                stderr=None if options.verbose else subprocess.PIPE,
                text=True,
            )
            if completed.returncode != 0:
                raise RuntimeError(f"the {name} worker failed:\n{completed.stderr or ''}")
            results.append(json.loads(pathlib.Path(job["output"]).read_text()))
        servers = _run_servers(options, workdir, progress) if "servers" in options.parts else None
        idle = _run_idle(options, workdir, progress) if "idle" in options.parts else None
    report = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": _command_line(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "versions": _versions(providers),
            "providers": names,
            "options": {**asdict(options), "workdir": None},
            "record_size": RECORD_SIZE,
            "chain_signatures": CHAIN_SIGNATURES,
            "mb": "10^6 bytes of application data per second",
        },
        "results": [row for result in results for row in result["rows"]],
        "floors": [f for result in results for f in result["floors"]],
        "aead_floors": [f for result in results for f in result["aead_floors"]],
        "memory": [m for result in results for m in result["memory"]],
        "servers": servers,
        "idle": idle,
        "skipped": planner.skipped,
        "peak_rss_kib": {
            "runner": memory.peak_rss_kib(),
            "workers": max((r["peak_rss_kib"] for r in results), default=0),
            "loopback_servers": max((r["loopback_server_peak_rss_kib"] for r in results), default=0),
        },
    }
    return report
