"""Which signature algorithms and public keys tlskit accepts in certificates, and how a
certificate's signature algorithm maps onto the provider's TLS SignatureScheme names.

Signature checks always go through ``provider.signature_schemes[name].verify(...)`` with
``strict_curve=False`` (an X.509 ECDSA signature is not bound to one curve).

Policy (documented in docs/pki.md):
* accepted: RSA PKCS#1 v1.5 with SHA-256/384/512, RSASSA-PSS with SHA-256/384/512
  (MGF1 with the same hash, salt length equal to the hash length, trailer 1), ECDSA with
  SHA-256/384/512, Ed25519, Ed448;
* MD5 signatures (md5WithRSAEncryption, or MD5 inside RSASSA-PSS parameters) are
  rejected as ForbiddenSignatureAlgorithm, alert bad_certificate (RFC 8446 4.4.2.4 MUST);
* SHA-1 signatures are rejected the same way (4.4.2.4 RECOMMENDS bad_certificate);
* SHA-224 and DSA signatures are rejected as UnsupportedCertificateAlgorithm (unsupported_certificate);
* keys: RSA >= 2048 bits with a modulus length that is a multiple of 8, ECDSA on P-256,
  P-384, P-521 only (named curves, no explicit parameters), Ed25519, Ed448.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from tlskit.errors import BadSignatureError, TLSError
from tlskit.pki import der
from tlskit.pki.errors import BadCertificateSignature, ForbiddenSignatureAlgorithm, UnsupportedCertificateAlgorithm

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.providers.base import Provider

OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
OID_RSASSA_PSS = "1.2.840.113549.1.1.10"
OID_MGF1 = "1.2.840.113549.1.1.8"

#: Signature algorithm OID -> TLS SignatureScheme name (None: rejected by policy).
_SIMPLE_SIGNATURE_OIDS: dict[str, str | None] = {
    "1.2.840.113549.1.1.11": "rsa_pkcs1_sha256",
    "1.2.840.113549.1.1.12": "rsa_pkcs1_sha384",
    "1.2.840.113549.1.1.13": "rsa_pkcs1_sha512",
    "1.2.840.10045.4.3.2": "ecdsa_secp256r1_sha256",
    "1.2.840.10045.4.3.3": "ecdsa_secp384r1_sha384",
    "1.2.840.10045.4.3.4": "ecdsa_secp521r1_sha512",
    "1.3.101.112": "ed25519",
    "1.3.101.113": "ed448",
}
_RSA_PKCS1_OIDS = {"1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13"}
_WEAK_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
    "1.2.840.10040.4.3": "dsa-with-sha1",
    "2.16.840.1.101.3.4.3.2": "dsa-with-sha256",
}
#: Signature algorithms using an MD5 hash (RFC 8446 4.4.2.4: abort with bad_certificate).
_MD5_SIGNATURE_OIDS = {"1.2.840.113549.1.1.4"}  # md5WithRSAEncryption
#: ... and a SHA-1 hash (4.4.2.4: RECOMMENDED to abort with bad_certificate too).
_SHA1_SIGNATURE_OIDS = {"1.2.840.113549.1.1.5", "1.2.840.10045.4.1", "1.2.840.10040.4.3"}
OID_MD5 = "1.2.840.113549.2.5"
_HASH_OIDS = {
    "2.16.840.1.101.3.4.2.1": ("sha256", 32),
    "2.16.840.1.101.3.4.2.2": ("sha384", 48),
    "2.16.840.1.101.3.4.2.3": ("sha512", 64),
}
_NULL = b"\x05\x00"


class _MD5Hash(der.DERError):
    """MD5 named as the hash of RSASSA-PSS parameters (message or MGF1 hash)."""


def _hash_algorithm(data: bytes, tlv: der.TLV) -> tuple[str, int]:
    alg = der.parse_algorithm_identifier(data, tlv)
    if alg.oid == OID_MD5:
        raise _MD5Hash("MD5 hash in RSASSA-PSS parameters")
    if alg.parameters not in (None, _NULL) or alg.oid not in _HASH_OIDS:
        raise der.DERError(f"unsupported hash {alg.oid} in RSASSA-PSS parameters")
    return _HASH_OIDS[alg.oid]


def _pss_hash(params: bytes | None) -> str:
    """Validate RSASSA-PSS-params (RFC 4055) and return the hash name.

    DEFAULT values (SHA-1, salt 20) mean SHA-1, which the policy rejects, so every field
    except trailerField must be present explicitly.
    """
    if params is None:
        raise der.DERError("RSASSA-PSS without parameters (implies SHA-1)")
    top = der.read_single(params, der.TAG_SEQUENCE)
    fields = {t.tag: t for t in der.children(params, top)}
    if set(fields) - {0xA0, 0xA1, 0xA2, 0xA3} or len(fields) != len(der.children(params, top)):
        raise der.DERError("unexpected field in RSASSA-PSS parameters")
    if 0xA0 not in fields or 0xA1 not in fields:
        raise der.DERError("RSASSA-PSS parameters use the SHA-1 default hash")
    if 0xA2 not in fields:
        raise der.DERError("RSASSA-PSS salt length is the default 20, not the hash length")
    hash_name, hash_len = _hash_algorithm(params, der.read_tlv(params, fields[0xA0].content_start, fields[0xA0].end))
    mgf = der.parse_algorithm_identifier(params, der.read_tlv(params, fields[0xA1].content_start, fields[0xA1].end))
    if mgf.oid != OID_MGF1 or mgf.parameters is None:
        raise der.DERError("RSASSA-PSS mask generation function is not MGF1")
    mgf_hash, _ = _hash_algorithm(mgf.parameters, der.read_single(mgf.parameters, der.TAG_SEQUENCE))
    if mgf_hash != hash_name:
        raise der.DERError("RSASSA-PSS MGF1 hash differs from the message hash")
    salt_tlv = der.read_tlv(params, fields[0xA2].content_start, fields[0xA2].end)
    if salt_tlv.tag != der.TAG_INTEGER:
        raise der.DERError("RSASSA-PSS saltLength is not an INTEGER")
    if int.from_bytes(salt_tlv.content(params), "big", signed=True) != hash_len:
        raise der.DERError("RSASSA-PSS salt length differs from the hash length")
    if 0xA3 in fields:
        trailer = der.read_tlv(params, fields[0xA3].content_start, fields[0xA3].end)
        if trailer.tag != der.TAG_INTEGER or trailer.content(params) != b"\x01":
            raise der.DERError("RSASSA-PSS trailerField is not 1")
    return hash_name


def scheme_for(algorithm: der.AlgorithmIdentifier, issuer_key_oid: str, subject: x509.Certificate | None = None) -> str:
    """Map a signature AlgorithmIdentifier (and the issuer key's algorithm) to a scheme name."""
    oid = algorithm.oid
    if oid in _MD5_SIGNATURE_OIDS:
        raise ForbiddenSignatureAlgorithm(
            f"signature algorithm {_WEAK_SIGNATURE_OIDS[oid]} uses MD5 (RFC 8446 4.4.2.4)", subject, rule="md5-signature"
        )
    if oid in _SHA1_SIGNATURE_OIDS:
        raise ForbiddenSignatureAlgorithm(
            f"signature algorithm {_WEAK_SIGNATURE_OIDS[oid]} uses SHA-1 (RFC 8446 4.4.2.4)", subject, rule="sha1-signature"
        )
    if oid in _WEAK_SIGNATURE_OIDS:
        raise UnsupportedCertificateAlgorithm(
            f"signature algorithm {_WEAK_SIGNATURE_OIDS[oid]} is not accepted", subject, rule="signature-algorithm-policy"
        )
    if oid == OID_RSASSA_PSS:
        try:
            hash_name = _pss_hash(algorithm.parameters)
        except _MD5Hash as exc:
            raise ForbiddenSignatureAlgorithm(f"RSASSA-PSS signature uses MD5: {exc} (RFC 8446 4.4.2.4)", subject, rule="md5-signature") from None
        except der.DERError as exc:
            raise UnsupportedCertificateAlgorithm(f"RSASSA-PSS parameters not accepted: {exc}", subject, rule="rsassa-pss-params") from None
        if issuer_key_oid == OID_RSASSA_PSS:
            return f"rsa_pss_pss_{hash_name}"
        return f"rsa_pss_rsae_{hash_name}"
    scheme = _SIMPLE_SIGNATURE_OIDS.get(oid)
    if scheme is None:
        raise UnsupportedCertificateAlgorithm(f"unknown signature algorithm {oid}", subject, rule="signature-algorithm-policy")
    if oid in _RSA_PKCS1_OIDS:
        if algorithm.parameters not in (None, _NULL):
            raise UnsupportedCertificateAlgorithm("RSA PKCS#1 signature algorithm with parameters", subject, rule="signature-algorithm-params")
    elif algorithm.parameters is not None:
        raise UnsupportedCertificateAlgorithm(f"signature algorithm {scheme} must have no parameters", subject, rule="signature-algorithm-params")
    return scheme


def check_public_key(cert: x509.Certificate) -> None:
    """Reject public keys outside the policy (weak RSA, odd curves, DSA, explicit curves)."""
    try:
        key = cert.public_key()
    except Exception as exc:  # explicit curves, unknown algorithms, malformed keys
        raise UnsupportedCertificateAlgorithm(f"public key not accepted: {exc}", cert, rule="public-key-policy") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048 or key.key_size % 8:
            raise UnsupportedCertificateAlgorithm(
                f"RSA key of {key.key_size} bits (need >= 2048, a multiple of 8)", cert, rule="public-key-policy"
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise UnsupportedCertificateAlgorithm(f"elliptic curve {key.curve.name} not accepted", cert, rule="public-key-policy")
    elif not isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        raise UnsupportedCertificateAlgorithm(f"public key type {type(key).__name__} not accepted", cert, rule="public-key-policy")


def verify_signature(
    provider: "Provider",
    scheme: str,
    issuer_spki: bytes,
    tbs: bytes,
    signature: bytes,
    subject: x509.Certificate | None,
    what: str = "certificate",
) -> None:
    """Check one signature through the provider; typed errors only."""
    verifier = provider.signature_schemes.get(scheme)
    if verifier is None:
        raise UnsupportedCertificateAlgorithm(
            f"provider {provider.name!r} cannot verify {scheme} (signature on the {what})", subject, rule="provider-scheme"
        )
    try:
        verifier.verify(issuer_spki, tbs, signature, strict_curve=False)
    except BadSignatureError:
        raise BadCertificateSignature(f"the signature on the {what} does not verify ({scheme})", subject, rule="signature") from None
    except TLSError as exc:
        raise BadCertificateSignature(f"the signature on the {what} does not verify ({scheme}): {exc}", subject, rule="signature") from None
    except Exception as exc:  # a provider that leaked a library error: still a failed check
        raise BadCertificateSignature(
            f"the signature on the {what} does not verify ({scheme}): {type(exc).__name__}: {exc}", subject, rule="signature"
        ) from None


def resolve_provider(provider: "Provider | str | None") -> "Provider":
    from tlskit.providers import get_provider  # imported late: providers are a lower layer but load lazily

    if provider is None:
        return get_provider("cryptography")
    if isinstance(provider, str):
        return get_provider(provider)
    return provider
