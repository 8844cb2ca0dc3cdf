#!/usr/bin/env python3
"""Run a tlskit fuzz target under atheris (coverage-guided, libFuzzer).

    pip install -e '.[fuzz]'
    python scripts/fuzz.py TARGET [--runs N] [--max-time S] [-libFuzzer_option=value ...]
    python scripts/fuzz.py --list
    python scripts/fuzz.py --make-corpus          # rewrite fuzz/corpus/ from real transcripts

Targets: see fuzz/targets.py. Seeds are read from fuzz/corpus/TARGET/ (committed, small);
new inputs go to fuzz/work/TARGET/ (not committed), crashes to fuzz/crashes/. The final
libFuzzer line reports executions (``stat::number_of_executed_units``) and coverage
(``cov:``/``ft:``), which docs/fuzzing.md records per campaign.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "fuzz" / "corpus"


def make_corpus() -> None:
    """Seeds from real recorded transcripts and certificates (tlskit on both sides, the
    stdlib ``ssl`` module's ClientHello, the ephemeral CA's certificates and CSRs)."""
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.x509.oid import NameOID

    from fuzz.targets import remake_fixture
    from tlskit.ca.ephemeral import EphemeralCA
    from tlskit.engine.client import ClientConnection
    from tlskit.engine.server import ServerConnection

    s = remake_fixture()
    ca = EphemeralCA(key_type="ecdsa-p256")  # for the extra ClientHellos and certificates only
    seeds: dict[str, dict[str, bytes]] = {name: {} for name in ("server_engine", "client_engine", "record_layer", "certificates", "csr", "extensions")}

    # ClientHellos: the deterministic one, tlskit's default (PQ + classical shares), pynacl's, stdlib ssl's
    seeds["server_engine"]["tlskit-fixed-hello"] = s.client_hello
    seeds["server_engine"]["tlskit-fixed-hello-finished"] = s.client_hello + s.client_finished
    for provider in ("cryptography", "pynacl"):
        hello = ClientConnection(ca.client_config(provider=provider, alpn_protocols=["h2"]), "localhost").data_to_send()
        seeds["server_engine"][f"tlskit-{provider}-hello"] = hello
    tls12 = ClientConnection(ca.client_config(max_version="TLSv1.2"), "localhost").data_to_send()
    seeds["server_engine"]["tlskit-tls12-hello"] = tls12
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    seeds["server_engine"]["stdlib-ssl-hello"] = outgoing.read()

    # server flights: the recorded plaintext (re-encrypted by the target) and the raw records
    seeds["client_engine"]["flight-plaintext"] = b"\x00" + s.server_flight_plaintext
    flight = s.server_hello + s.encrypt(s.server_flight_plaintext, "SERVER_HANDSHAKE_TRAFFIC_SECRET")
    seeds["client_engine"]["flight-raw"] = b"\x01" + flight
    # a HelloRetryRequest flight: a server that only takes secp384r1
    hrr_server = ServerConnection(ca.server_config(groups=["secp384r1"]))
    hrr_server.receive_data(seeds["server_engine"]["tlskit-cryptography-hello"])
    seeds["client_engine"]["hello-retry-raw"] = b"\x01" + hrr_server.data_to_send()

    seeds["record_layer"]["plaintext-hello"] = b"\x00" + s.client_hello
    seeds["record_layer"]["protected-flight"] = b"\x01" + flight[len(s.server_hello) :]

    # certificates: the chain the server sends, DER and PEM, an RSA and an Ed25519 CA with an intermediate
    seeds["certificates"]["leaf-chain.pem"] = s.chain_pem
    seeds["certificates"]["leaf.der"] = x509.load_pem_x509_certificate(s.chain_pem).public_bytes(serialization.Encoding.DER)
    seeds["certificates"]["root.der"] = x509.load_pem_x509_certificate(s.root_pem).public_bytes(serialization.Encoding.DER)
    ed = EphemeralCA(key_type="ed25519", intermediate=True)
    seeds["certificates"]["ed25519-chain.der"] = b"".join(ed.issue_cert("localhost").chain_der)

    # CSRs: EC P-256 with SANs (PEM and DER), Ed25519
    for label, key in (("p256", ec.generate_private_key(ec.SECP256R1())), ("ed25519", ed25519.Ed25519PrivateKey.generate())):
        builder = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz.example")]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("fuzz.example"), x509.DNSName("www.fuzz.example")]), critical=False)
        )
        request = builder.sign(key, None if label == "ed25519" else hashes.SHA256())
        seeds["csr"][f"{label}.pem"] = request.public_bytes(serialization.Encoding.PEM)
        seeds["csr"][f"{label}.der"] = request.public_bytes(serialization.Encoding.DER)

    # extension decoders: the bodies of real messages, byte 0 naming the decoder (see targets.extensions)
    def messages_of(data: bytes) -> list[bytes]:
        out, pos = [], 0
        while pos + 4 <= len(data):
            length = int.from_bytes(data[pos + 1 : pos + 4], "big")
            out.append(data[pos : pos + 4 + length])
            pos += 4 + length
        return out

    seeds["extensions"]["client-hello"] = b"\x00" + s.client_hello[5 + 4 :]
    seeds["extensions"]["client-hello-pq"] = b"\x00" + seeds["server_engine"]["tlskit-cryptography-hello"][5 + 4 :]
    seeds["extensions"]["stdlib-client-hello"] = b"\x00" + seeds["server_engine"]["stdlib-ssl-hello"][5 + 4 :]
    seeds["extensions"]["server-hello"] = b"\x01" + s.server_hello[5 + 4 :]
    kinds = {8: 2, 13: 3, 11: 4, 4: 5, 15: 6}
    for message in messages_of(s.server_flight_plaintext):
        if message[0] in kinds:
            seeds["extensions"][f"type-{message[0]}"] = bytes([kinds[message[0]]]) + message[4:]
    seeds["extensions"]["key-update"] = b"\x07\x01"

    for target, files in seeds.items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()
        for name, data in files.items():
            (directory / name).write_bytes(data)
        print(f"{target}: {len(files)} seeds, {sum(map(len, files.values()))} bytes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", nargs="?")
    parser.add_argument("--runs", type=int, default=None, help="stop after N executions (default: until --max-time or a crash)")
    parser.add_argument("--max-time", type=int, default=None, help="stop after S seconds")
    parser.add_argument("--list", action="store_true", help="list the targets")
    parser.add_argument("--make-corpus", action="store_true", help="regenerate fuzz/corpus/ from recorded transcripts")
    args, libfuzzer = parser.parse_known_args()  # the rest (-max_len=..., -jobs=...) goes to libFuzzer
    if args.make_corpus:
        make_corpus()
        return 0
    if args.list or not args.target:
        from fuzz.targets import TARGETS

        print("\n".join(TARGETS))
        return 0 if args.list else 2
    try:
        import atheris
    except ImportError:
        print("atheris is not installed: pip install -e '.[fuzz]'", file=sys.stderr)
        return 2
    # nothing of tlskit may be imported before this point, or it runs uninstrumented
    with atheris.instrument_imports(include=["tlskit", "fuzz"]):
        import tlskit.ca.csr  # noqa: F401 - instrument what the targets reach
        import tlskit.engine
        import tlskit.pki  # noqa: F401
        from fuzz import targets
    if args.target not in targets.TARGETS:
        parser.error(f"unknown target {args.target!r}; one of: {', '.join(targets.TARGETS)}")
    target = targets.TARGETS[args.target]
    targets.setup()  # build the recorded handshake before fuzzing starts
    work = ROOT / "fuzz" / "work" / args.target
    crashes = ROOT / "fuzz" / "crashes"
    work.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    argv = [sys.argv[0], str(work), str(CORPUS / args.target), f"-artifact_prefix={crashes}/{args.target}-", "-print_final_stats=1"]
    if args.runs is not None:
        argv.append(f"-runs={args.runs}")
    if args.max_time is not None:
        argv.append(f"-max_total_time={args.max_time}")
    argv += [a for a in libfuzzer if a != "--"]
    atheris.Setup(argv, target)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
