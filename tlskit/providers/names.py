"""IANA names and code points of the algorithms tlskit knows about.

Providers implement a subset; configs name algorithms with these strings.
"""

from __future__ import annotations

#: TLS 1.3 cipher suites (RFC 8446 appendix B.4).
CIPHER_SUITES: dict[str, int] = {
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
}

#: Named groups (RFC 8446 4.2.7, RFC 7919, draft-ietf-tls-ecdhe-mlkem).
GROUPS: dict[str, int] = {
    "secp256r1": 0x0017,
    "secp384r1": 0x0018,
    "secp521r1": 0x0019,
    "x25519": 0x001D,
    "x448": 0x001E,
    "SecP256r1MLKEM768": 0x11EB,
    "X25519MLKEM768": 0x11EC,
    # RFC 7919 finite-field groups (TLS 1.3 only in tlskit)
    "ffdhe2048": 0x0100,
    "ffdhe3072": 0x0101,
    "ffdhe4096": 0x0102,
    "ffdhe6144": 0x0103,
    "ffdhe8192": 0x0104,
}

#: Signature schemes (RFC 8446 4.2.3). rsa_pkcs1_* are for certificates only.
SIGNATURE_SCHEMES: dict[str, int] = {
    "rsa_pkcs1_sha256": 0x0401,
    "rsa_pkcs1_sha384": 0x0501,
    "rsa_pkcs1_sha512": 0x0601,
    "ecdsa_secp256r1_sha256": 0x0403,
    "ecdsa_secp384r1_sha384": 0x0503,
    "ecdsa_secp521r1_sha512": 0x0603,
    "rsa_pss_rsae_sha256": 0x0804,
    "rsa_pss_rsae_sha384": 0x0805,
    "rsa_pss_rsae_sha512": 0x0806,
    "ed25519": 0x0807,
    "ed448": 0x0808,
    "rsa_pss_pss_sha256": 0x0809,
    "rsa_pss_pss_sha384": 0x080A,
    "rsa_pss_pss_sha512": 0x080B,
    "rsa_pkcs1_sha1": 0x0201,
    "ecdsa_sha1": 0x0203,
}

#: Schemes that may appear only in certificates, never in CertificateVerify.
CERTIFICATE_ONLY_SCHEMES: frozenset[str] = frozenset(
    {"rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512", "rsa_pkcs1_sha1", "ecdsa_sha1"}
)

GROUP_NAMES = {v: k for k, v in GROUPS.items()}
CIPHER_SUITE_NAMES = {v: k for k, v in CIPHER_SUITES.items()}
SIGNATURE_SCHEME_NAMES = {v: k for k, v in SIGNATURE_SCHEMES.items()}
