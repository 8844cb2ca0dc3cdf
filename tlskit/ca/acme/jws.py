"""JWS for ACME requests (RFC 8555 section 6.2) on top of josepy.

josepy implements JOSE (RFC 7515/7517/7518) but neither the ACME header fields
(``nonce``, ``url``) nor EdDSA (RFC 8037). Both are added here by subclassing, not
by registering into josepy's global tables, so that importing tlskit never changes
how josepy behaves for other code in the same process (certbot's, for instance).

:func:`parse_request` checks everything about a request body that does not need the
server's state: the flattened JSON serialization, a protected header holding
``alg``, ``nonce``, ``url`` and exactly one of ``jwk``/``kid``, an allowed
algorithm that fits the key, and (when the key is embedded) the signature itself.
"""

from __future__ import annotations

import binascii
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping

import josepy
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from tlskit.ca.acme.problems import AcmeProblem

logger = logging.getLogger("tlskit.ca.acme")

#: the signature algorithms accepted on ACME requests. RFC 8555 section 6.2: the server
#: MUST NOT accept "none" nor MAC algorithms; ES256 and EdDSA are the ones it names.
ALLOWED_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "EdDSA")
#: the smallest RSA account key accepted (NIST SP 800-57: 2048 bits until 2030)
MIN_RSA_BITS = 2048
#: a request body larger than this is refused before any parsing
MAX_BODY = 64 * 1024

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64decode(value: Any, what: str) -> bytes:
    """Strict base64url without padding (RFC 7515 section 2), or ``malformed``."""
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise AcmeProblem("malformed", f"{what} is not base64url without padding")
    try:
        return josepy.b64decode(value)
    except (ValueError, binascii.Error):
        raise AcmeProblem("malformed", f"{what} is not base64url without padding") from None


def b64encode(data: bytes) -> str:
    return josepy.b64encode(data).decode("ascii")


# -- EdDSA (RFC 8037) ------------------------------------------------------------------


_OKP_CURVES: dict[str, tuple[Any, Any, int]] = {
    "Ed25519": (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey, 32),
    "Ed448": (ed448.Ed448PublicKey, ed448.Ed448PrivateKey, 57),
}


class JWKOKP(josepy.JWK):
    """An Octet Key Pair JWK (RFC 8037 section 2) for Ed25519 and Ed448 keys."""

    typ = "OKP"
    __slots__ = ("key",)
    cryptography_key_types = (
        ed25519.Ed25519PublicKey,
        ed25519.Ed25519PrivateKey,
        ed448.Ed448PublicKey,
        ed448.Ed448PrivateKey,
    )
    # RFC 8037 section 2: the thumbprint members of an OKP key
    required = ("crv", josepy.JWK.type_field_name, "x")

    def _curve(self) -> str:
        key = self.key
        if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
            return "Ed25519"
        if isinstance(key, (ed448.Ed448PublicKey, ed448.Ed448PrivateKey)):
            return "Ed448"
        raise josepy.SerializationError("not an EdDSA key")

    def public_key(self) -> "JWKOKP":
        key = self.key
        return type(self)(key=key.public_key() if hasattr(key, "private_bytes_raw") else key)

    def fields_to_partial_json(self) -> dict[str, Any]:
        key = self.key
        params = {"crv": self._curve()}
        public = key.public_key() if hasattr(key, "private_bytes_raw") else key
        params["x"] = josepy.encode_b64jose(public.public_bytes_raw())
        if hasattr(key, "private_bytes_raw"):
            params["d"] = josepy.encode_b64jose(key.private_bytes_raw())
        return params

    @classmethod
    def fields_from_json(cls, jobj: Mapping[str, Any]) -> "JWKOKP":
        crv = jobj.get("crv")
        if crv not in _OKP_CURVES:
            raise josepy.DeserializationError(f"unsupported OKP curve {crv!r}")
        public_cls, private_cls, size = _OKP_CURVES[crv]
        try:
            if "d" in jobj:
                return cls(key=private_cls.from_private_bytes(josepy.decode_b64jose(jobj["d"], size)))
            return cls(key=public_cls.from_public_bytes(josepy.decode_b64jose(jobj["x"], size)))
        except (ValueError, TypeError, KeyError) as exc:
            raise josepy.DeserializationError(f"bad OKP key: {exc}") from None

    @classmethod
    def from_json(cls, jobj: Mapping[str, Any]) -> "JWKOKP":
        # not registered in josepy's JWK.TYPES (see the module docstring): decode directly
        if not isinstance(jobj, Mapping) or jobj.get(cls.type_field_name) != cls.typ:
            raise josepy.DeserializationError("not an OKP key")
        return cls.fields_from_json(jobj)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JWKOKP):
            return NotImplemented
        return self.thumbprint() == other.thumbprint()

    def __hash__(self) -> int:
        return hash(self.thumbprint())


class _JWAEdDSA(josepy.JWASignature):
    """EdDSA (RFC 8037 section 3.1): the curve comes from the key, not the name."""

    kty = JWKOKP

    def sign(self, key: Any, msg: bytes) -> bytes:
        return key.sign(msg)

    def verify(self, key: Any, msg: bytes, sig: bytes) -> bool:
        try:
            key.verify(sig, msg)
        except InvalidSignature:
            return False
        return True


EdDSA = _JWAEdDSA("EdDSA")

_ALGORITHMS: dict[str, josepy.JWASignature] = {
    "ES256": josepy.ES256,
    "ES384": josepy.ES384,
    "ES512": josepy.ES512,
    "RS256": josepy.RS256,
    "EdDSA": EdDSA,
}
_EC_CURVE_FOR_ALG = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}


def _decode_alg(value: Any) -> josepy.JWASignature:
    if value in _ALGORITHMS:
        return _ALGORITHMS[value]
    raise josepy.DeserializationError(f"unsupported algorithm {value!r}")


def decode_jwk(value: Any) -> josepy.JWK:
    """A public JWK of a supported type (RSA, EC, OKP); never a symmetric or private key."""
    if not isinstance(value, dict):
        raise josepy.DeserializationError("jwk is not a JSON object")
    if "d" in value or value.get("kty") == "oct":
        # a private (or symmetric) key in a request: refuse it rather than use it
        raise josepy.DeserializationError("jwk must be a public key")
    if value.get("kty") == "OKP":
        return JWKOKP.from_json(value)
    if value.get("kty") not in ("RSA", "EC"):
        raise josepy.DeserializationError(f"unsupported key type {value.get('kty')!r}")
    return josepy.JWK.from_json(value)


# -- the ACME flavour of the JOSE header -------------------------------------------------


class Header(josepy.Header):
    """JOSE header with the ACME fields ``nonce`` and ``url`` (RFC 8555 section 6.4 and 6.5)."""

    alg: josepy.JWASignature | None = josepy.field("alg", decoder=_decode_alg, omitempty=True)
    jwk: josepy.JWK | None = josepy.field("jwk", decoder=decode_jwk, omitempty=True)
    kid: str | None = josepy.field("kid", omitempty=True)
    nonce: str | None = josepy.field("nonce", omitempty=True)
    url: str | None = josepy.field("url", omitempty=True)


class Signature(josepy.Signature):
    __slots__ = josepy.Signature._orig_slots  # type: ignore[attr-defined]
    header_cls = Header
    header: Header = josepy.field("header", omitempty=True, default=header_cls(), decoder=header_cls.from_json)


class JWS(josepy.JWS):
    """An ACME JWS; :meth:`sign_request` builds one (used by tests and small clients)."""

    __slots__ = josepy.JWS._orig_slots  # type: ignore[attr-defined]
    signature_cls = Signature

    @classmethod
    def sign_request(
        cls,
        payload: bytes,
        *,
        key: josepy.JWK,
        alg: str,
        url: str,
        nonce: str | None,
        kid: str | None = None,
    ) -> "JWS":
        """Sign ``payload`` as RFC 8555 section 6.2 asks: everything in the protected header,
        ``jwk`` unless ``kid`` is given; ``nonce=None`` for the inner JWS of a key change."""
        protect = {"alg", "url"} | ({"nonce"} if nonce is not None else set())
        protect |= {"kid"} if kid is not None else {"jwk"}
        fields: dict[str, Any] = {"url": url}
        if nonce is not None:
            fields["nonce"] = nonce
        if kid is not None:
            fields["kid"] = kid
        return super().sign(
            payload, key=key, alg=_ALGORITHMS[alg], include_jwk=kid is None, protect=frozenset(protect), **fields
        )


#: RFC 8555 section 6.2: a badSignatureAlgorithm problem lists the algorithms accepted
_ALGORITHMS_EXTRA = {"algorithms": list(ALLOWED_ALGORITHMS)}


def check_account_key(alg: str, jwk: josepy.JWK) -> None:
    """The key must suit the algorithm (RFC 7518 section 3.4: ES256 is P-256 only) and be strong enough."""
    key = jwk.key
    if alg == "RS256":
        # josepy wraps RSA and EC keys in Comparable*Key proxies: test the JWK class, read attributes
        if not isinstance(jwk, josepy.JWKRSA):
            raise AcmeProblem("badSignatureAlgorithm", "RS256 needs an RSA key", extra=_ALGORITHMS_EXTRA)
        if key.key_size < MIN_RSA_BITS:
            raise AcmeProblem("badPublicKey", f"RSA account keys must have at least {MIN_RSA_BITS} bits")
    elif alg in _EC_CURVE_FOR_ALG:
        if not isinstance(jwk, josepy.JWKEC) or not isinstance(key.curve, _EC_CURVE_FOR_ALG[alg]):
            raise AcmeProblem(
                "badSignatureAlgorithm",
                f"{alg} needs an EC key on {_EC_CURVE_FOR_ALG[alg].name}",
                extra=_ALGORITHMS_EXTRA,
            )
    elif alg == "EdDSA":
        if not isinstance(jwk, JWKOKP):
            raise AcmeProblem("badSignatureAlgorithm", "EdDSA needs an OKP key", extra=_ALGORITHMS_EXTRA)


def thumbprint(jwk: josepy.JWK) -> str:
    """The RFC 7638 SHA-256 thumbprint, base64url: the key's identity and key-authorization suffix."""
    return b64encode(jwk.thumbprint(hash_function=hashes.SHA256))


# -- parsing a request -------------------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    """A syntactically valid ACME JWS; ``verify(key)`` checks its signature."""

    alg: str
    nonce: str | None
    url: str
    jwk: josepy.JWK | None
    kid: str | None
    payload: bytes
    jws: JWS

    def verify(self, key: josepy.JWK) -> None:
        check_account_key(self.alg, key)
        try:
            valid = self.jws.signature.verify(self.payload, key)
        except Exception as exc:  # josepy/cryptography failures on a hostile signature are "invalid"
            logger.debug("JWS verification raised %s", type(exc).__name__)
            valid = False
        if not valid:
            raise AcmeProblem("malformed", "JWS signature does not verify")

    def json_payload(self) -> dict[str, Any]:
        """The payload as a JSON object; POST-as-GET (empty payload) is refused here."""
        if self.payload == b"":
            raise AcmeProblem("malformed", "this request needs a JSON payload, not POST-as-GET")
        try:
            value = json.loads(self.payload)
        except (ValueError, RecursionError):
            raise AcmeProblem("malformed", "the JWS payload is not JSON") from None
        if not isinstance(value, dict):
            raise AcmeProblem("malformed", "the JWS payload is not a JSON object")
        return value

    @property
    def post_as_get(self) -> bool:
        return self.payload == b""


def parse_request(body: bytes, *, need_nonce: bool = True) -> SignedRequest:
    """Parse (not yet verify) an ACME JWS body; every defect is an :class:`AcmeProblem`."""
    if len(body) > MAX_BODY:
        raise AcmeProblem("malformed", f"request body larger than {MAX_BODY} bytes")
    try:
        outer = json.loads(body)
    except (ValueError, RecursionError):
        raise AcmeProblem("malformed", "request body is not JSON") from None
    if not isinstance(outer, dict):
        raise AcmeProblem("malformed", "request body is not a JSON object")
    # RFC 8555 section 6.2: flattened JSON serialization, one signature, no unprotected
    # header, payload not detached.
    if set(outer) != {"protected", "payload", "signature"}:
        raise AcmeProblem(
            "malformed", "the JWS must use the flattened JSON serialization with protected, payload and signature only"
        )
    protected_raw = b64decode(outer["protected"], "protected header")
    b64decode(outer["signature"], "signature")
    payload = b64decode(outer["payload"], "payload")
    try:
        protected = json.loads(protected_raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AcmeProblem("malformed", "the protected header is not JSON") from None
    if not isinstance(protected, dict):
        raise AcmeProblem("malformed", "the protected header is not a JSON object")
    alg = protected.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise AcmeProblem(
            "badSignatureAlgorithm",
            f"algorithm {alg!r} is not accepted",
            extra=_ALGORITHMS_EXTRA,
        )
    if "crit" in protected:
        raise AcmeProblem("malformed", "no critical JWS header extensions are supported")
    has_jwk, has_kid = "jwk" in protected, "kid" in protected
    if has_jwk == has_kid:
        raise AcmeProblem("malformed", "the protected header must hold exactly one of jwk and kid")
    url = protected.get("url")
    if not isinstance(url, str) or not url:
        raise AcmeProblem("malformed", "the protected header has no url")
    nonce = protected.get("nonce")
    if need_nonce:
        if not isinstance(nonce, str) or not nonce:
            raise AcmeProblem("badNonce", "the protected header has no nonce")
    elif nonce is not None:
        raise AcmeProblem("malformed", "this JWS must not carry a nonce")
    if has_jwk:
        try:
            decode_jwk(protected["jwk"])
        except Exception as exc:  # josepy raises several types on hostile keys
            raise AcmeProblem("badPublicKey", f"unusable jwk: {exc}") from None
    kid = protected.get("kid")
    if has_kid and (not isinstance(kid, str) or not kid):
        raise AcmeProblem("malformed", "kid must be an account URL")
    try:
        jws = JWS.from_json(outer)
    except Exception as exc:  # josepy raises several types on hostile input; all mean "malformed"
        raise AcmeProblem("malformed", f"unreadable JWS: {type(exc).__name__}") from None
    jwk = jws.signature.combined.jwk
    if has_jwk and jwk is None:  # pragma: no cover - decode_jwk either returns a key or raises
        raise AcmeProblem("malformed", "unreadable jwk")
    return SignedRequest(alg=alg, nonce=nonce, url=url, jwk=jwk, kid=kid, payload=payload, jws=jws)
