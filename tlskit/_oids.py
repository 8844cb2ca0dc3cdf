"""The one table of the object identifiers tlskit reads in keys and certificates.

Every other view derives from these tables: the providers' key-type and curve checks
(tlskit.providers._common), the certificate signature policy (tlskit.pki.algorithms)
and the SignatureScheme codes the engine matches a certificate chain against
(tlskit.engine.certs). Like tlskit._der it sits below every layer and imports nothing
from tlskit. OIDs are in dotted form, as tlskit._der.decode_oid returns them.
"""

from __future__ import annotations

from typing import NamedTuple

# Public-key algorithms of a SubjectPublicKeyInfo / PKCS#8 AlgorithmIdentifier
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"  # RFC 8017
RSASSA_PSS = "1.2.840.113549.1.1.10"  # RFC 4055: as a key type and as a signature algorithm
EC_PUBLIC_KEY = "1.2.840.10045.2.1"  # RFC 5480
ED25519 = "1.3.101.112"  # RFC 8410: as a key type and as a signature algorithm
ED448 = "1.3.101.113"
MGF1 = "1.2.840.113549.1.1.8"  # RFC 8017 B.2.1, inside RSASSA-PSS-params

#: namedCurve OID -> TLS curve name (RFC 5480; the only curves TLS 1.3 signs with)
CURVES: dict[str, str] = {
    "1.2.840.10045.3.1.7": "secp256r1",
    "1.3.132.0.34": "secp384r1",
    "1.3.132.0.35": "secp521r1",
}


class HashInfo(NamedTuple):
    name: str
    length: int  # digest size in bytes


#: Hash algorithm OID -> name and digest size (RFC 3279, RFC 5754)
HASHES: dict[str, HashInfo] = {
    "1.2.840.113549.2.5": HashInfo("md5", 16),
    "1.3.14.3.2.26": HashInfo("sha1", 20),
    "2.16.840.1.101.3.4.2.4": HashInfo("sha224", 28),
    "2.16.840.1.101.3.4.2.1": HashInfo("sha256", 32),
    "2.16.840.1.101.3.4.2.2": HashInfo("sha384", 48),
    "2.16.840.1.101.3.4.2.3": HashInfo("sha512", 64),
}
HASH_OIDS: dict[str, str] = {info.name: oid for oid, info in HASHES.items()}


class SignatureAlgorithm(NamedTuple):
    name: str  # the X.509 name, for messages
    hash: str | None  # hash name; None for EdDSA and for RSASSA-PSS (in its parameters)
    scheme: str | None  # the TLS SignatureScheme (RFC 8446 4.2.3) naming it, if any


#: Certificate signatureAlgorithm OID -> what it is. RSASSA-PSS is named by its
#: parameters (rsa_pss_rsae_* or rsa_pss_pss_* by the hash, RFC 8446 4.2.3), so it has
#: no single scheme here.
SIGNATURE_ALGORITHMS: dict[str, SignatureAlgorithm] = {
    "1.2.840.113549.1.1.4": SignatureAlgorithm("md5WithRSAEncryption", "md5", None),
    "1.2.840.113549.1.1.5": SignatureAlgorithm("sha1WithRSAEncryption", "sha1", "rsa_pkcs1_sha1"),
    "1.2.840.113549.1.1.14": SignatureAlgorithm("sha224WithRSAEncryption", "sha224", None),
    "1.2.840.113549.1.1.11": SignatureAlgorithm("sha256WithRSAEncryption", "sha256", "rsa_pkcs1_sha256"),
    "1.2.840.113549.1.1.12": SignatureAlgorithm("sha384WithRSAEncryption", "sha384", "rsa_pkcs1_sha384"),
    "1.2.840.113549.1.1.13": SignatureAlgorithm("sha512WithRSAEncryption", "sha512", "rsa_pkcs1_sha512"),
    RSASSA_PSS: SignatureAlgorithm("RSASSA-PSS", None, None),
    "1.2.840.10045.4.1": SignatureAlgorithm("ecdsa-with-SHA1", "sha1", "ecdsa_sha1"),
    "1.2.840.10045.4.3.1": SignatureAlgorithm("ecdsa-with-SHA224", "sha224", None),
    "1.2.840.10045.4.3.2": SignatureAlgorithm("ecdsa-with-SHA256", "sha256", "ecdsa_secp256r1_sha256"),
    "1.2.840.10045.4.3.3": SignatureAlgorithm("ecdsa-with-SHA384", "sha384", "ecdsa_secp384r1_sha384"),
    "1.2.840.10045.4.3.4": SignatureAlgorithm("ecdsa-with-SHA512", "sha512", "ecdsa_secp521r1_sha512"),
    "1.2.840.10040.4.3": SignatureAlgorithm("dsa-with-sha1", "sha1", None),
    "2.16.840.1.101.3.4.3.2": SignatureAlgorithm("dsa-with-sha256", "sha256", None),
    ED25519: SignatureAlgorithm("Ed25519", None, "ed25519"),
    ED448: SignatureAlgorithm("Ed448", None, "ed448"),
}


def pss_schemes(hash_name: str) -> tuple[str, str]:
    """The two SignatureSchemes an RSASSA-PSS signature with ``hash_name`` may be
    named by: rsa_pss_rsae_* under an rsaEncryption key, rsa_pss_pss_* under an
    RSASSA-PSS key (RFC 8446 4.2.3)."""
    return f"rsa_pss_rsae_{hash_name}", f"rsa_pss_pss_{hash_name}"
