"""Finalization, certificate download and revocation (RFC 8555 sections 7.4, 7.4.2, 7.6).

A mixin of :class:`tlskit.ca.acme.service.AcmeService`, kept apart because it is the
part that talks to the CA: a CSR that names exactly the order's identifiers goes to
``CertificateAuthority.sign_csr`` (which applies the CA's policy and records the
certificate in its index), and revocation goes to ``CertificateAuthority.revoke``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca.acme import identifiers as idents
from tlskit.ca.acme.jws import SignedRequest, b64decode, decode_jwk, thumbprint
from tlskit.ca.acme.objects import Response, jwk_of_public_key
from tlskit.ca.acme.problems import AcmeProblem
from tlskit.ca.errors import CAError

if TYPE_CHECKING:
    from tlskit.ca.acme.store import AcmeStore

PEM_CHAIN = "application/pem-certificate-chain"

#: RFC 5280 section 5.3.1 reason codes, by the names tlskit.ca's revoke() understands
#: (8, removeFromCRL, is for delta CRLs and never a reason to revoke)
REVOCATION_REASONS = {
    0: None,
    1: "keyCompromise",
    2: "cACompromise",
    3: "affiliationChanged",
    4: "superseded",
    5: "cessationOfOperation",
    6: "certificateHold",
    9: "privilegeWithdrawn",
    10: "aACompromise",
}


class IssuanceHandlers:
    """The CA-facing handlers; the attributes below come from AcmeService."""

    ca: Any
    store: "AcmeStore"
    days: int
    _issue_lock: threading.Lock

    if TYPE_CHECKING:

        def url(self, path: str) -> str: ...
        def _json(self, status: int, obj: Any, *, location: str | None = None, extra: Any = None) -> Response: ...
        def _order_view(self, ident: str, order: dict[str, Any]) -> dict[str, Any]: ...
        def _refresh_order(self, ident: str, order: dict[str, Any]) -> dict[str, Any]: ...
        def _refresh_authz(self, ident: str, authz: dict[str, Any]) -> dict[str, Any]: ...
        def _require_account(self, account: str | None) -> str: ...
        def _owned(self, kind: str, ident: str, account: str) -> dict[str, Any]: ...

    # -- finalization and certificates (RFC 8555 sections 7.4, 7.4.2) ---------------------------------

    def _finalize(self, request: SignedRequest, account: str, ident: str) -> Response:
        payload = request.json_payload()
        csr_der = b64decode(payload.get("csr"), "csr")
        with self.store.transaction():
            order = self._refresh_order(ident, self.store.get("order", ident) or {})
            if order["status"] != "ready":
                raise AcmeProblem("orderNotReady", f"the order is {order['status']}, not ready")
            try:
                csr = x509.load_der_x509_csr(csr_der)
            except ValueError:
                raise AcmeProblem("badCSR", "the CSR is not a DER certificate signing request") from None
            self._check_csr(csr, order, account)
            order["status"] = "processing"
            self.store.put("order", ident, order, account=account)
        name = order["identifiers"][0]["value"]
        try:
            with self._issue_lock:
                csr_pem = csr.public_bytes(serialization.Encoding.PEM)
                issued = self.ca.sign_csr(csr_pem, profile="server", days=self.days, name=name)
        except CAError as exc:
            self._set_order_status(ident, "ready")
            raise AcmeProblem("badCSR", str(exc)) from None
        except BaseException:
            self._set_order_status(ident, "ready")
            raise
        serial = format(issued.serial, "x")
        chain = issued.certificate.public_bytes(serialization.Encoding.PEM) + self.ca.intermediates_pem()
        with self.store.transaction():
            record = {"account": account, "order": ident, "chain": chain.decode("ascii")}
            self.store.put("cert", serial, record, account=account)
            order = self.store.get("order", ident) or order
            order["status"] = "valid"
            order["certificate"] = serial
            self.store.put("order", ident, order, account=account)
        return self._json(200, self._order_view(ident, order), location=self.url(f"/acme/order/{ident}"))

    def _set_order_status(self, ident: str, status: str) -> None:
        with self.store.transaction():
            order = self.store.get("order", ident)
            if order is not None:
                order["status"] = status
                self.store.put("order", ident, order, account=order["account"])

    def _check_csr(self, csr: x509.CertificateSigningRequest, order: dict[str, Any], account: str) -> None:
        """Section 7.4: the CSR names exactly the order's identifiers, and is properly self-signed."""
        try:
            valid = csr.is_signature_valid
        except Exception:
            valid = False
        if not valid:
            raise AcmeProblem("badCSR", "the CSR's self-signature does not verify")
        try:
            sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = idents.from_general_names(sans)
        except x509.ExtensionNotFound:
            names = set()
        except ValueError:
            raise AcmeProblem("badCSR", "the CSR's extensions cannot be parsed") from None
        try:
            cns = [str(a.value) for a in csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
        except ValueError:
            raise AcmeProblem("badCSR", "the CSR's subject cannot be parsed") from None
        wanted = {(i["type"], i["value"]) for i in order["identifiers"]}
        for cn in cns:
            if not any(cn.lower().rstrip(".") == value for _, value in wanted):
                raise AcmeProblem("badCSR", f"the CSR's common name {cn[:64]!r} is not an identifier of the order")
        if names != wanted:
            raise AcmeProblem("badCSR", "the CSR's subjectAltName must list exactly the order's identifiers")
        # Section 11.1: the account key must not also be a certificate key
        account_data = self.store.get("account", account) or {}
        try:
            csr_jwk = jwk_of_public_key(csr.public_key())
        except Exception:
            raise AcmeProblem("badCSR", "the CSR's public key cannot be parsed") from None
        account_jwk = account_data.get("jwk")
        if csr_jwk is not None and account_jwk and thumbprint(csr_jwk) == thumbprint(decode_jwk(account_jwk)):
            raise AcmeProblem("badCSR", "the certificate key must not be the account key")

    def _certificate(self, request: SignedRequest, account: str | None, ident: str, sub: str | None) -> Response:
        account = self._require_account(account)
        if sub is not None or not request.post_as_get:
            raise AcmeProblem("malformed", "a certificate is read with POST-as-GET", status=405 if sub is None else 404)
        cert = self._owned("cert", ident, account)
        return Response(200, [("Content-Type", PEM_CHAIN)], cert["chain"].encode("ascii"))

    # -- revocation (RFC 8555 section 7.6) ----------------------------------------------------------

    def _revoke_cert(self, request: SignedRequest, account: str | None) -> Response:
        payload = request.json_payload()
        der = b64decode(payload.get("certificate"), "certificate")
        reason_code = payload.get("reason", 0)
        if not isinstance(reason_code, int) or isinstance(reason_code, bool) or reason_code not in REVOCATION_REASONS:
            raise AcmeProblem("badRevocationReason", f"reason must be one of {sorted(REVOCATION_REASONS)}")
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise AcmeProblem("malformed", "certificate is not a DER X.509 certificate") from None
        records = self.ca.find(cert.serial_number)
        record = records[0] if records else None
        if record is None or record.certificate() != cert:
            raise AcmeProblem("malformed", "this certificate was not issued by this CA", status=404)
        if account is None:
            # Signed by the certificate's key (jwk): the key itself is the proof
            jwk = jwk_of_public_key(cert.public_key())
            if jwk is None or request.jwk is None or thumbprint(jwk) != thumbprint(request.jwk):
                raise AcmeProblem("unauthorized", "the JWS key is neither an account's key nor the certificate's")
        elif not self._may_revoke(account, format(cert.serial_number, "x"), cert):
            raise AcmeProblem(
                "unauthorized", "this account neither obtained this certificate nor holds authorizations for its names"
            )
        if record.revoked:
            raise AcmeProblem("alreadyRevoked", "the certificate is already revoked")
        try:
            self.ca.revoke(cert.serial_number, REVOCATION_REASONS[reason_code])
        except CAError as exc:
            raise AcmeProblem("serverInternal", str(exc)) from None
        return Response(200, [])

    def _may_revoke(self, account: str, serial: str, cert: x509.Certificate) -> bool:
        issued = self.store.get("cert", serial)
        if issued is not None and issued.get("account") == account:
            return True
        # Section 7.6: or the account holds valid authorizations for every name in the certificate
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = idents.from_general_names(san)
        except (x509.ExtensionNotFound, AcmeProblem, ValueError):
            return False
        authorized = {
            (a["identifier"]["type"], a["identifier"]["value"])
            for aid, a in self.store.owned_by("authz", account)
            if self._refresh_authz(aid, a)["status"] == "valid"
        }
        return bool(names) and names <= authorized
