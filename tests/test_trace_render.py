"""The trace model, message decoders, JSON schema, text output and ladder diagram, on a
hand-built trace (the engine's own traces are tested in test_trace_engine.py)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st
from trace_support import GREASE_EXTENSION, UNKNOWN_EXTENSION, client_hello_bytes, sample_entries

from tlskit.engine.trace import RECORD_TYPES, HandshakeMessage, from_dict
from tlskit.engine.tracefields import certificate_summary, code_name, describe_message, is_grease
from tlskit.trace import JsonLinesWriter, TextWriter, TraceLog, read_json_lines, render_html, render_svg, render_text, schema, write_diagram

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def leaf(tmp_path_factory):
    from engine_support import pki_for

    return pki_for(tmp_path_factory.mktemp("trace")).leaf


@pytest.fixture(scope="module")
def entries(leaf):
    return sample_entries(leaf)


# -- decoders -------------------------------------------------------------------------


def test_client_hello_fields_name_everything_and_mark_grease_and_unknown():
    name, fields = describe_message(client_hello_bytes())
    assert name == "client_hello"
    assert fields["cipher_suites"] == ["GREASE(0x0a0a)", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]
    by_name = {e["name"]: e for e in fields["extensions"]}
    assert by_name["server_name"]["value"] == "localhost"
    assert by_name["supported_groups"]["value"] == ["GREASE(0x1a1a)", "x25519", "secp256r1"]
    assert by_name["signature_algorithms"]["value"] == ["ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256"]
    assert by_name["application_layer_protocol_negotiation"]["value"] == ["h2", "http/1.1"]
    assert by_name["supported_versions"]["value"] == ["TLSv1.3"]
    assert by_name["key_share"]["value"] == [{"group": "x25519", "size": 32}]
    assert by_name["psk_key_exchange_modes"]["value"] == ["psk_dhe_ke"]
    grease = [e for e in fields["extensions"] if e["type"] == GREASE_EXTENSION]
    assert grease == [{"type": GREASE_EXTENSION, "name": "GREASE(0x2a2a)", "grease": True, "length": 0}]
    unknown = [e for e in fields["extensions"] if e["type"] == UNKNOWN_EXTENSION]
    assert unknown == [{"type": UNKNOWN_EXTENSION, "name": "unknown(0xfe00)", "unknown": True, "length": 2}]
    assert "random" in fields and len(fields["random"]) == 64


def test_grease_values_are_exactly_the_rfc_8701_ones():
    grease = {0x0A0A + 0x1010 * i for i in range(16)}
    assert {v for v in range(0x10000) if is_grease(v)} == grease
    assert code_name({}, 0x1234) == "unknown(0x1234)"


def test_certificate_summary_has_subject_issuer_validity_key_type_and_sans(leaf):
    summary = certificate_summary(leaf.public_bytes(Encoding.DER))
    assert summary["subject"] == "CN=localhost"
    assert summary["issuer"].startswith("CN=")
    assert summary["key_type"] == "ECDSA-secp256r1"
    assert "DNS:localhost" in summary["sans"]
    assert summary["not_before"] < summary["not_after"]
    assert summary["ca"] is False


def test_a_malformed_certificate_is_described_not_raised():
    summary = certificate_summary(b"\x30\x03\x02\x01\x00")
    assert summary["size"] == 5 and "malformed" in summary


def test_malformed_messages_are_described_as_far_as_they_parse():
    raw = client_hello_bytes()
    name, fields = describe_message(raw[:60])
    assert name == "client_hello" and "malformed" in fields
    assert fields["legacy_version"] == "TLSv1.2"  # what parsed before the cut is kept
    assert describe_message(b"\x01") == ("truncated", {"malformed": "shorter than a handshake header", "length": 1})


@settings(max_examples=300, deadline=None)
@given(msg_type=st.sampled_from([1, 2, 4, 8, 11, 13, 15, 20, 24, 12, 99]), body=st.binary(max_size=300))
def test_describe_message_never_raises_and_stays_json(msg_type, body):
    raw = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
    name, fields = describe_message(raw)
    json.dumps(fields)  # JSON-ready whatever came in
    assert isinstance(name, str)


# -- records and JSON -------------------------------------------------------------------


def test_every_record_kind_round_trips_through_json_and_validates(entries):
    validator = jsonschema.Draft202012Validator(schema())
    jsonschema.Draft202012Validator.check_schema(schema())
    kinds = set()
    buffer = io.StringIO()
    writer = JsonLinesWriter(buffer)
    for entry in entries:
        writer(entry)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == len(entries)
    for line, entry in zip(lines, entries):
        data = json.loads(line)
        validator.validate(data)
        kinds.add(data["kind"])
        assert from_dict(data) == entry.record
    assert kinds == set(RECORD_TYPES) - {"negotiated"}
    assert [e.record for e in read_json_lines(lines)] == [e.record for e in entries]


def test_the_schema_rejects_what_it_does_not_describe(entries):
    validator = jsonschema.Draft202012Validator(schema())
    good = entries[1].to_dict()
    for broken in (
        {**good, "kind": "nonsense"},
        {**good, "direction": "sideways"},
        {**good, "surprise": 1},
        {k: v for k, v in good.items() if k != "fields"},
    ):
        assert not validator.is_valid(broken)


def test_trace_log_stamps_keeps_and_forwards():
    ticks = iter([10.0, 10.25, 11.0])
    seen = []
    log = TraceLog(seen.append, clock=lambda: next(ticks))
    records = [from_dict({"kind": "state", "side": "client", "old": "START", "new": "WAIT_SH"})] * 3
    for record in records:
        log(record)
    assert [e.t for e in log.entries] == [0.0, 0.25, 1.0]
    assert seen == log.entries and log.records == records


# -- text ---------------------------------------------------------------------------------


def test_text_is_plain_when_piped_and_coloured_when_asked(entries):
    plain = io.StringIO()
    writer = TextWriter(plain)  # a StringIO is not a terminal: no colour
    for entry in entries:
        writer(entry)
    text = plain.getvalue()
    assert "\x1b[" not in text
    for expected in ("-> ClientHello", "<- HelloRetryRequest", "HelloRetryRequest: server asked for a key share for secp256r1",
                     "key schedule: derive client_handshake_traffic_secret \"c hs traffic\"", "keys: read now under handshake keys",
                     "FAILED certificate_chain: unknown issuer", "alert sent: fatal unknown_ca", "state START -> WAIT_SH",
                     "supported_groups: GREASE(0x1a1a), x25519, secp256r1", "GREASE(0x2a2a) [GREASE]", "unknown(0xfe00) [unknown]",
                     "certificate: CN=localhost (ECDSA-secp256r1)", "[encrypted]"):
        assert expected in text, expected
    coloured = io.StringIO()
    writer = TextWriter(coloured, color=True)
    writer(entries[-1])
    assert "\x1b[" in coloured.getvalue() and "unknown_ca" in coloured.getvalue()
    assert render_text(entries) == text.replace("\r", "")


# -- diagram --------------------------------------------------------------------------------


def _svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == SVG_NS + "svg"
    return ["".join(node.itertext()) for node in root.iter(SVG_NS + "text")]


def test_svg_parses_and_names_every_message_once_with_hrr_and_alert_marked(entries):
    svg = render_svg(entries, title="sample")
    texts = _svg_texts(svg)
    titles = [t.split("  (")[0] for t in texts if "  (" in t and "B)" in t]
    assert titles == ["ClientHello", "HelloRetryRequest", "ClientHello", "ServerHello", "EncryptedExtensions", "Certificate"]
    assert "Alert: fatal unknown_ca" in texts
    assert any("server asked for a key share for secp256r1" in t for t in texts)
    assert any(t.startswith("encrypted from here") for t in texts)
    assert any("ms" in t for t in texts)  # timings
    root = ET.fromstring(svg)
    arrows = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "message"]
    assert [g.get("data-sender") for g in arrows] == ["client", "server", "client", "server", "server", "server", "client"]


def test_html_page_embeds_the_diagram_and_every_step(entries, tmp_path):
    page = tmp_path / "trace.html"
    write_diagram(page, entries)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "HelloRetryRequest" in text
    assert text.count("<details>") == sum(isinstance(e.record, HandshakeMessage) for e in entries)
    svg_file = tmp_path / "trace.svg"
    write_diagram(svg_file, entries)
    ET.parse(svg_file)


def test_svg_renders_in_headless_chromium(entries, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("chromium is not installed")
    svg_file = tmp_path / "trace.svg"
    write_diagram(svg_file, entries)
    screenshot = tmp_path / "shot.png"
    root = ET.parse(svg_file).getroot()
    width, height = int(root.get("width")), int(root.get("height"))
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={screenshot}",
         f"--window-size={width},{height}", f"--user-data-dir={tmp_path / 'profile'}", svg_file.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image  # matplotlib (test extra) brings Pillow

    image = Image.open(screenshot).convert("RGB")
    assert image.size == (width, height)
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20)}
    # the arrows' colours made it to the screen: client blue, HRR amber, alert red
    for wanted in ((0x1F, 0x5F, 0xA8), (0xC7, 0x77, 0x00), (0xC6, 0x28, 0x28)):
        assert any(all(abs(a - b) <= 8 for a, b in zip(colour, wanted)) for colour in colours), wanted
