"""One benchmark worker process: every measurement that uses one TLS 1.3 suite.

The stdlib ``ssl`` module cannot choose TLS 1.3 suites or groups from Python,
and OpenSSL reads its configuration once per process, so the runner starts one
worker per suite with an ``OPENSSL_CONF`` that pins it (:mod:`tlskit.bench.pinning`).
Both stacks are measured inside the worker, interleaved, so every ratio compares
figures from the same process, certificates and parameters.

Run as ``python -m tlskit.bench.worker JOB.json``; the results go to the job's
``output`` path as JSON (stdout stays free for anything a library prints).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pathlib
import sys
import time
import traceback
from typing import Any, Callable, TypeVar

from tlskit.bench import floor, loopback, memory, resumption, stdlib_ssl, tlskit_side
from tlskit.bench.certs import load_pki
from tlskit.bench.harness import Repetition, interleave, paired_ratio, rate_for

UNITS = {
    "handshake": "handshakes/s",
    "bulk": "MB/s",
    "tcp_handshake": "handshakes/s",
    "tcp_bulk": "MB/s",
    "resumption": "handshakes/s",
}


class PinMismatch(RuntimeError):
    """The stack negotiated something other than the parameters the row claims."""


def _name(value: Any) -> Any:
    return getattr(value, "name", value)


def _check_negotiated(label: str, got: dict, suite: str, group: str) -> dict:
    got = {key: _name(value) for key, value in got.items()}
    if got.get("cipher_suite") != suite or (got.get("group") is not None and got.get("group") != group):
        raise PinMismatch(f"{label} negotiated {got.get('cipher_suite')}/{got.get('group')}, expected {suite}/{group}")
    return got


#: a stack's in-memory connection pair (stdlib_ssl.MemoryPair or tlskit_side.Pair)
P = TypeVar("P")


class Worker:
    def __init__(self, job: dict) -> None:
        self.job = job
        self.suite: str = job["suite"]
        self.reps: int = job["reps"]
        self.min_time: float = job["min_time"]
        self.bulk_bytes: int = job["bulk_bytes"]
        self.tcp_bulk_bytes: int = job.get("tcp_bulk_bytes", job["bulk_bytes"])
        self.chunk = bytes(job.get("record", 16384))
        self.pki_dir = pathlib.Path(job["pki_dir"])
        self.servers = contextlib.ExitStack()

    def log(self, message: str) -> None:
        print(f"[{self.suite}] {message}", file=sys.stderr, flush=True)

    # --- one side of a scenario: set up, check what it negotiates, return a repetition

    def _params(self, side: dict) -> tlskit_side.Params:
        return tlskit_side.Params(side["provider"], self.suite, side["group"], side.get("verify_cache", False))

    def prepare(self, kind: str, side: dict) -> tuple[Repetition, dict]:
        if kind == "resumption":
            return self._resumption(side)
        if side["stack"] == "raw":
            return self._raw_aead(side), {"cipher_suite": self.suite}
        if side["stack"] == "floor":
            pki = load_pki(self.pki_dir, side["key_type"])
            once = floor.floor_handshake(floor.handshake_operations(side["provider"], pki, side["group"]))
            return (lambda: rate_for(once, min_time=self.min_time)), {"group": side["group"]}
        pki = load_pki(self.pki_dir, side["key_type"])
        label, group = side["label"], side["group"]
        open_stream: Callable[[int], loopback.Stream]
        if side["stack"] == "ssl":
            client_ctx, server_ctx = stdlib_ssl.client_context(pki, self.suite), stdlib_ssl.server_context(pki, self.suite)
            negotiated, handshake, bulk = self._in_memory(
                label,
                group,
                functools.partial(stdlib_ssl.handshake, client_ctx, server_ctx),
                stdlib_ssl.bulk_transfer,
                stdlib_ssl.negotiated,
            )
            open_stream = functools.partial(loopback.open_ssl, context=client_ctx)
            server_params = None
        else:
            configs = tlskit_side.make_configs(pki, self._params(side))
            negotiated, handshake, bulk = self._in_memory(
                label,
                group,
                functools.partial(tlskit_side.handshake, configs),
                tlskit_side.bulk_transfer,
                tlskit_side.negotiated,
            )
            open_stream = functools.partial(loopback.open_tlskit, configs=configs)
            server_params = self._params(side)

        if kind == "handshake":
            return handshake, negotiated
        if kind == "bulk":
            return bulk, negotiated
        server = self.servers.enter_context(loopback.LoopbackServer(side["stack"], pki, server_params))
        if kind == "tcp_handshake":
            return (lambda: loopback.handshake_rate(server.port, open_stream, min_time=self.min_time)), negotiated
        if kind == "tcp_bulk":
            return (
                lambda: loopback.bulk_rate(server.port, open_stream, total=self.tcp_bulk_bytes, chunk=self.chunk)
                / 1e6
            ), negotiated
        raise ValueError(f"unknown scenario kind {kind!r}")

    def _in_memory(
        self,
        label: str,
        group: str,
        make_pair: Callable[[], P],
        transfer: Callable[[P, int, bytes], None],
        get_negotiated: Callable[[P], dict[str, str | None]],
    ) -> tuple[dict, Repetition, Repetition]:
        """(what was negotiated, handshake repetition, bulk repetition) of one stack's in-memory pairs."""
        # The warm-up handshake also proves the row's parameters were really used.
        negotiated = _check_negotiated(label, get_negotiated(make_pair()), self.suite, group)

        def handshake() -> float:
            return rate_for(make_pair, min_time=self.min_time)

        def bulk() -> float:
            pair = make_pair()  # a fresh connection per repetition; its handshake is not timed
            start = time.perf_counter()
            transfer(pair, self.bulk_bytes, self.chunk)
            return self.bulk_bytes / (time.perf_counter() - start) / 1e6

        return negotiated, handshake, bulk

    def _resumption(self, side: dict) -> tuple[Repetition, dict]:
        """A resumed handshake (or, for "full", tlskit's full handshake with tickets on)."""
        pki = load_pki(self.pki_dir, side["key_type"])
        once: Callable[[], object]
        if side["stack"] == "ssl":
            once, negotiated = resumption.stdlib_resumed(pki)
        elif side["mode"] == "full":
            configs = tlskit_side.make_configs(pki, self._params(side), resumption_mode="psk_dhe_ke")
            cache = configs.client.session_cache

            def once() -> object:
                cache.clear()  # a full handshake every time (the tickets it brings are dropped)
                return tlskit_side.handshake(configs)

            pair = once()
            assert not pair.client.negotiated.resumed  # type: ignore[attr-defined]
            negotiated = tlskit_side.negotiated(pair)  # type: ignore[arg-type]
        else:
            once, negotiated = resumption.tlskit_resumed(pki, self._params(side), side["mode"])
        negotiated = _check_negotiated(side["label"], {**negotiated, "group": negotiated.get("group") or None}, self.suite, side["group"])
        return (lambda: rate_for(once, min_time=self.min_time)), negotiated

    def _raw_aead(self, side: dict) -> Repetition:
        """The provider's AEAD alone, sealing and opening the same records as the bulk sides.

        Interleaved with them, so "share of the raw AEAD rate" compares figures taken
        under the same load, unlike the separately measured record floor.
        """
        from tlskit.providers import get_provider

        algorithm = get_provider(side["provider"]).cipher_suites[self.suite].aead
        aead = algorithm.new(os.urandom(algorithm.key_length))
        nonce = os.urandom(algorithm.nonce_length)
        aad = b"\x17\x03\x03\x40\x11"  # a record header, as the record layer passes it
        chunk, count = self.chunk, self.bulk_bytes // len(self.chunk)

        def raw() -> float:
            start = time.perf_counter()
            for _ in range(count):
                aead.open(nonce, aad, aead.seal(nonce, aad, chunk))
            return count * len(chunk) / (time.perf_counter() - start) / 1e6

        return raw

    # --- a scenario: its sides interleaved, ratios against each side's reference

    def scenario(self, scenario: dict) -> list[dict]:
        kind = scenario["kind"]
        rows: dict[str, dict] = {}
        repetitions: dict[str, Repetition] = {}
        try:
            for side in scenario["sides"]:
                row = {
                    "kind": kind,
                    "unit": UNITS[kind],
                    "suite": self.suite,
                    "key_type": side["key_type"],
                    "group": side["group"],
                    "stack": side["stack"],
                    "provider": side.get("provider"),
                    "label": side["label"],
                    "reference": side.get("reference"),
                    "raw_reference": side.get("raw_reference"),
                }
                rows[side["label"]] = row
                try:
                    repetitions[side["label"]], row["negotiated"] = self.prepare(kind, side)
                except Exception as exc:  # noqa: BLE001 - one broken side must not sink the run
                    row["error"] = f"{type(exc).__name__}: {exc}"
                    self.log(f"{kind} {side['label']}: {row['error']}")
                    if os.environ.get("TLSKIT_BENCH_TRACEBACK"):
                        traceback.print_exc()
            self.log(f"{kind} {scenario.get('title', '')}: {', '.join(repetitions)}")
            try:
                samples = interleave(repetitions, self.reps)
            except Exception as exc:  # noqa: BLE001
                for label in repetitions:
                    rows[label]["error"] = f"{type(exc).__name__}: {exc}"
                return list(rows.values())
        finally:
            self.servers.close()
        for label, sample in samples.items():
            low, high = sample.spread
            rows[label].update(median=sample.median, min=low, max=high, reps=sample.values)
        for row in rows.values():
            for key, target in (("ratio", row["reference"]), ("share_of_raw", row.get("raw_reference"))):
                # share_of_raw: against the same provider's raw AEAD (bulk) or public-key floor (handshake)
                other = rows.get(target or "")
                if other is None or "reps" not in row or "reps" not in other:
                    continue
                paired = paired_ratio(row["reps"], other["reps"])
                if paired is not None:
                    row[key], row[f"{key}_min"], row[f"{key}_max"] = paired
        return list(rows.values())

    # --- the other measurements

    def floors(self) -> list[dict]:
        out = []
        quick = max(self.min_time / 4, 0.01)
        for spec in self.job.get("floors", []):
            try:
                result = floor.public_key_floor(
                    spec["provider"], load_pki(self.pki_dir, spec["key_type"]), spec["group"],
                    reps=self.reps, min_time=quick,
                )  # fmt: skip
                out.append(result.as_dict())
            except Exception as exc:  # noqa: BLE001
                out.append({**spec, "error": f"{type(exc).__name__}: {exc}"})
        return out

    def aead_floors(self) -> list[dict]:
        out = []
        quick = max(self.min_time / 4, 0.01)
        for spec in self.job.get("aead_floors", []):
            try:
                out.append(floor.aead_floor(spec["provider"], spec["suite"], reps=self.reps, min_time=quick))
            except Exception as exc:  # noqa: BLE001
                out.append({**spec, "error": f"{type(exc).__name__}: {exc}"})
        return out

    def memory(self) -> list[dict]:
        out = []
        for spec in self.job.get("memory", []):
            pki = load_pki(self.pki_dir, spec["key_type"])
            count = spec.get("count", 32)
            result: dict = {**spec, "suite": self.suite}
            make_pair: Callable[[], object]
            try:
                if spec["stack"] == "ssl":
                    make_pair = functools.partial(
                        stdlib_ssl.handshake, stdlib_ssl.client_context(pki), stdlib_ssl.server_context(pki)
                    )
                else:
                    configs = tlskit_side.make_configs(pki, self._params(spec))
                    make_pair = functools.partial(tlskit_side.handshake, configs)
                # RSS first, while the heap has not yet grown and shrunk for tracemalloc's pairs.
                result["rss_per_pair_bytes"] = memory.rss_per_pair(make_pair, count * 4)
                if spec["stack"] != "ssl":
                    result.update(memory.idle_pair_bytes(make_pair, _drop_server, count))
            except Exception as exc:  # noqa: BLE001
                result["error"] = f"{type(exc).__name__}: {exc}"
            out.append(result)
        return out

    def run(self) -> dict:
        rows = []
        for scenario in self.job.get("scenarios", []):
            rows.extend(self.scenario(scenario))
        result: dict[str, Any] = {
            "suite": self.suite,
            "rows": rows,
            "floors": self.floors(),
            "aead_floors": self.aead_floors(),
            "memory": self.memory(),
        }
        result["peak_rss_kib"] = memory.peak_rss_kib()
        result["loopback_server_peak_rss_kib"] = memory.peak_rss_kib(children=True)
        return result


def _drop_server(pair: Any) -> None:
    pair.server = None


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    job = json.loads(pathlib.Path(args[0]).read_text())
    result = Worker(job).run()
    pathlib.Path(job["output"]).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
