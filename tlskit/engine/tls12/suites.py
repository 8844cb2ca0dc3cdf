"""The TLS 1.2 cipher suites tlskit speaks: ECDHE + AEAD only (RFC 5289, RFC 7905).

Each suite is (authentication, AEAD, PRF hash). The record nonce differs by AEAD:
AES-GCM takes a 4-byte implicit salt from the key block and an 8-byte explicit part
sent in each record (RFC 5288 3); ChaCha20-Poly1305 takes a 12-byte IV XORed with the
sequence number, as TLS 1.3 does, and sends nothing explicit (RFC 7905 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from tlskit.providers.base import AEADAlgorithm, HashAlgorithm, Provider


@dataclass(frozen=True)
class SuiteInfo:
    """One row of the suite table: what a suite is made of, provider-independent."""

    name: str
    code: int
    #: "ECDSA" (ECDSA and EdDSA certificates, RFC 8422 5.1) or "RSA"
    auth: str
    aead: str
    hash: str

    @property
    def fixed_iv_length(self) -> int:
        """Implicit IV bytes per direction from the key block (RFC 5288 3, RFC 7905 2)."""
        return 12 if self.aead == "ChaCha20-Poly1305" else 4

    @property
    def explicit_nonce_length(self) -> int:
        """Bytes of nonce sent in front of every record's ciphertext."""
        return 0 if self.aead == "ChaCha20-Poly1305" else 8


#: Every TLS 1.2 suite tlskit implements, in its default preference order: AES-128-GCM
#: first as for TLS 1.3, ECDSA before RSA (a server holds one or the other, so the order
#: between the two only matters for a server with both).
SUITE_TABLE: dict[str, SuiteInfo] = {
    s.name: s
    for s in (
        SuiteInfo("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02B, "ECDSA", "AES-128-GCM", "sha256"),
        SuiteInfo("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xC02C, "ECDSA", "AES-256-GCM", "sha384"),
        SuiteInfo("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9, "ECDSA", "ChaCha20-Poly1305", "sha256"),
        SuiteInfo("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F, "RSA", "AES-128-GCM", "sha256"),
        SuiteInfo("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xC030, "RSA", "AES-256-GCM", "sha384"),
        SuiteInfo("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA8, "RSA", "ChaCha20-Poly1305", "sha256"),
    )
}
SUITE_BY_CODE: dict[int, SuiteInfo] = {s.code: s for s in SUITE_TABLE.values()}

#: RFC 5746 3.3: the signalling cipher suite value a client may send instead of the
#: empty renegotiation_info extension (we send the extension; a server accepts either).
TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
#: RFC 7507: a client's fallback signal. We never fall back, so we never send it; a server
#: that sees it with a lower version than its best answers inappropriate_fallback.
TLS_FALLBACK_SCSV = 0x5600

#: Groups usable for TLS 1.2 ECDHE (RFC 8422 5.1.1); the hybrid ML-KEM groups are TLS 1.3 only.
TLS12_GROUPS: tuple[str, ...] = ("x25519", "secp256r1", "x448", "secp384r1", "secp521r1")


@dataclass(frozen=True)
class Tls12CipherSuite:
    """A suite bound to one provider's AEAD and hash."""

    info: SuiteInfo
    aead: AEADAlgorithm
    hash: HashAlgorithm

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def code(self) -> int:
        return self.info.code

    @property
    def key_block_length(self) -> int:
        """client/server write keys and IVs (AEAD suites have no MAC keys, RFC 5246 6.3)."""
        return 2 * (self.aead.key_length + self.info.fixed_iv_length)


def provider_suites(provider: Provider) -> dict[str, Tls12CipherSuite]:
    """Every TLS 1.2 suite whose AEAD and hash the provider has, in the table's order.

    Kept on the provider (its tables are fixed once built) and rebuilt if either table
    object is replaced; a fresh dict is returned so callers cannot alter the kept one."""
    tables = (provider.aead_algorithms, provider.hash_algorithms)
    kept = provider.__dict__.get("_tls12_suites")
    if kept is not None and kept[0] is tables[0] and kept[1] is tables[1]:
        return dict(kept[2])
    suites = _build_provider_suites(provider)
    provider.__dict__["_tls12_suites"] = (tables[0], tables[1], suites)
    return dict(suites)


def _build_provider_suites(provider: Provider) -> dict[str, Tls12CipherSuite]:
    suites = {}
    for name, info in SUITE_TABLE.items():
        aead = provider.aead_algorithms.get(info.aead)
        hash_alg = provider.hash_algorithms.get(info.hash)
        if aead is not None and hash_alg is not None:
            suites[name] = Tls12CipherSuite(info, aead, hash_alg)
    return suites
