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

from tlskit import _der, _oids
from tlskit.errors import BadSignatureError, TLSError
from tlskit.pki.errors import BadCertificateSignature, ForbiddenSignatureAlgorithm, UnsupportedCertificateAlgorithm

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.providers.base import Provider

#: The hashes the policy accepts in a certificate signature (RFC 8446 4.2.3, 4.4.2.4).
_ACCEPTED_HASHES = frozenset({"sha256", "sha384", "sha512"})


class _MD5Hash(Exception):
    """MD5 named as the hash of RSASSA-PSS parameters (message or MGF1 hash)."""


class _RejectedPSS(Exception):
    """RSASSA-PSS parameters outside the policy (the message says which rule)."""


def _pss_hash_name(alg: _der.AlgorithmIdentifier) -> tuple[str, int]:
    info = _oids.HASHES.get(alg.oid)
    if info is not None and info.name == "md5":
        raise _MD5Hash("MD5 hash in RSASSA-PSS parameters")
    if alg.parameters not in (None, _der.NULL) or info is None or info.name not in _ACCEPTED_HASHES:
        raise _RejectedPSS(f"unsupported hash {alg.oid} in RSASSA-PSS parameters")
    return info


def _pss_hash(params: bytes | None) -> str:
    """Check RSASSA-PSS-params (RFC 4055, read by tlskit._der) against the policy and
    return the hash name.

    DEFAULT values (SHA-1, salt 20) mean SHA-1, which the policy rejects, so every field
    except trailerField must be present explicitly.
    """
    if params is None:
        raise _RejectedPSS("RSASSA-PSS without parameters (implies SHA-1)")
    try:
        pss = _der.parse_pss_params(params)
    except _der.DERError as exc:
        raise _RejectedPSS(f"malformed RSASSA-PSS parameters: {exc}") from None
    if pss.hash is None or pss.mgf is None:
        raise _RejectedPSS("RSASSA-PSS parameters use the SHA-1 default hash")
    if pss.salt_length is None:
        raise _RejectedPSS("RSASSA-PSS salt length is the default 20, not the hash length")
    hash_name, hash_len = _pss_hash_name(pss.hash)
    if pss.mgf.oid != _oids.MGF1 or pss.mgf_hash is None:
        raise _RejectedPSS("RSASSA-PSS mask generation function is not MGF1")
    mgf_hash, _ = _pss_hash_name(pss.mgf_hash)
    if mgf_hash != hash_name:
        raise _RejectedPSS("RSASSA-PSS MGF1 hash differs from the message hash")
    if pss.salt_length != hash_len:
        raise _RejectedPSS("RSASSA-PSS salt length differs from the hash length")
    if pss.trailer_field not in (None, 1):
        raise _RejectedPSS("RSASSA-PSS trailerField is not 1")
    return hash_name


def scheme_for(algorithm: _der.AlgorithmIdentifier, issuer_key_oid: str, subject: x509.Certificate | None = None) -> str:
    """Map a signature AlgorithmIdentifier (and the issuer key's algorithm) to a scheme name."""
    oid = algorithm.oid
    known = _oids.SIGNATURE_ALGORITHMS.get(oid)
    if known is None:
        raise UnsupportedCertificateAlgorithm(f"unknown signature algorithm {oid}", subject, rule="signature-algorithm-policy")
    if known.hash == "md5":
        raise ForbiddenSignatureAlgorithm(
            f"signature algorithm {known.name} uses MD5 (RFC 8446 4.4.2.4)", subject, rule="md5-signature"
        )
    if known.hash == "sha1":
        raise ForbiddenSignatureAlgorithm(
            f"signature algorithm {known.name} uses SHA-1 (RFC 8446 4.4.2.4)", subject, rule="sha1-signature"
        )
    if oid == _oids.RSASSA_PSS:
        try:
            hash_name = _pss_hash(algorithm.parameters)
        except _MD5Hash as exc:
            raise ForbiddenSignatureAlgorithm(f"RSASSA-PSS signature uses MD5: {exc} (RFC 8446 4.4.2.4)", subject, rule="md5-signature") from None
        except _RejectedPSS as exc:
            raise UnsupportedCertificateAlgorithm(f"RSASSA-PSS parameters not accepted: {exc}", subject, rule="rsassa-pss-params") from None
        rsae, pss = _oids.pss_schemes(hash_name)
        return pss if issuer_key_oid == _oids.RSASSA_PSS else rsae
    scheme = known.scheme
    if scheme is None:  # SHA-224, DSA: RFC 8446 4.2.3 "MUST NOT be offered"
        raise UnsupportedCertificateAlgorithm(
            f"signature algorithm {known.name} is not accepted", subject, rule="signature-algorithm-policy"
        )
    if scheme.startswith("rsa_pkcs1_"):
        # RFC 4055 5: the parameters of these OIDs are NULL (or, seen in practice, absent)
        if algorithm.parameters not in (None, _der.NULL):
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
    if provider is not None and not isinstance(provider, str):
        return provider  # a Provider already (the engine's case, on every handshake)
    from tlskit.providers import get_provider  # imported late: providers are a lower layer but load lazily

    if provider is None:
        return get_provider("cryptography")
    if isinstance(provider, str):
        return get_provider(provider)
    return provider
