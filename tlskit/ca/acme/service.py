"""The ACME protocol (RFC 8555) as a function of requests: ``AcmeService.handle``.

No sockets here: :mod:`tlskit.ca.acme.server` carries requests over HTTPS and hands
each one to :meth:`AcmeService.handle` as (method, path, headers, body), so the
protocol can be exercised, and attacked, in memory.

Every POST goes through one gate (:meth:`AcmeService._authenticate`): the JWS is
parsed and checked (:mod:`tlskit.ca.acme.jws`), its ``url`` must be the URL it was
posted to (section 6.4), its nonce must be one this server issued and not yet used
(section 6.5), and its key must be the account's (``kid``) or, where the RFC allows
an embedded key, the ``jwk``. Objects are only shown to the account that owns them.

Nonces are kept in memory, not in the state store: they are single-use and
short-lived, and a restart merely makes clients retry after ``badNonce``, which
RFC 8555 section 6.5 requires them to do.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime
import json
import logging
import secrets
import threading
from typing import Any, Callable

from tlskit.ca.acme import identifiers as idents
from tlskit.ca.acme.issuance import IssuanceHandlers
from tlskit.ca.acme.jws import SignedRequest, decode_jwk, parse_request, thumbprint
from tlskit.ca.acme.objects import Response, new_id, now, parse_timestamp, timestamp
from tlskit.ca.acme.problems import AcmeProblem
from tlskit.ca.acme.store import AcmeStore
from tlskit.ca.acme.validation import VALIDATORS, Target
from tlskit.ca.errors import CAError

logger = logging.getLogger("tlskit.ca.acme")

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
JOSE_JSON = "application/jose+json"

#: how many unused nonces are remembered; the oldest are forgotten first (a client
#: holding one gets badNonce and retries with the fresh nonce sent alongside)
MAX_NONCES = 10_000
CHALLENGE_TYPES = ("http-01", "tls-alpn-01")
_ALLOW_GET = {"Allow": "GET, HEAD"}


class AcmeService(IssuanceHandlers):
    """RFC 8555 over a :class:`tlskit.ca.CertificateAuthority`.

    ``base_url`` is the origin the clients use (``https://host:port``); the directory
    is ``base_url + "/directory"``. ``validation_address`` (tests, as in Pebble)
    replaces the address of every identifier when validating; ``http01_port`` and
    ``tls_alpn01_port`` replace the standard ports 80 and 443.
    """

    def __init__(
        self,
        ca: Any,
        base_url: str,
        *,
        store: AcmeStore,
        validation_address: str | None = None,
        http01_port: int = 80,
        tls_alpn01_port: int = 443,
        days: int = 90,
        validation_timeout: float = 5.0,
        order_lifetime: datetime.timedelta = datetime.timedelta(days=7),
        max_validations: int = 4,
    ) -> None:
        self.ca = ca
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.validation_address = validation_address
        self.ports = {"http-01": http01_port, "tls-alpn-01": tls_alpn01_port}
        self.days = days
        self.validation_timeout = validation_timeout
        self.order_lifetime = order_lifetime
        self._nonces: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._nonce_lock = threading.Lock()
        self._issue_lock = threading.Lock()
        self._validations = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_validations, thread_name_prefix="tlskit-acme-validate"
        )
        self._closed = False
        self._routes: list[tuple[str, Callable[..., Response], bool]] = [
            ("/acme/new-account", self._new_account, True),
            ("/acme/new-order", self._new_order, False),
            ("/acme/revoke-cert", self._revoke_cert, True),
            ("/acme/key-change", self._key_change, False),
        ]
        self._resume_validations()

    # -- URLs -----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def directory_url(self) -> str:
        return self.url("/directory")

    def account_url(self, ident: str) -> str:
        return self.url(f"/acme/acct/{ident}")

    def directory(self) -> dict[str, Any]:
        return {
            "newNonce": self.url("/acme/new-nonce"),
            "newAccount": self.url("/acme/new-account"),
            "newOrder": self.url("/acme/new-order"),
            "revokeCert": self.url("/acme/revoke-cert"),
            "keyChange": self.url("/acme/key-change"),
            "meta": {"externalAccountRequired": False},
        }

    # -- nonces (RFC 8555 section 6.5) -------------------------------------------------------

    def new_nonce(self) -> str:
        nonce = secrets.token_urlsafe(16)  # base64url, 128 bits: unguessable and never repeated
        with self._nonce_lock:
            self._nonces[nonce] = None
            while len(self._nonces) > MAX_NONCES:
                self._nonces.popitem(last=False)
        return nonce

    def _consume_nonce(self, nonce: str | None) -> None:
        with self._nonce_lock:
            if nonce is None or self._nonces.pop(nonce, False) is not None:
                raise AcmeProblem("badNonce", "the nonce is unknown, already used or expired; retry with a fresh one")

    # -- the request entry point ----------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """One HTTP request (header names lowercased) to one response; never raises."""
        path = target.split("?", 1)[0]
        try:
            response = self._dispatch(method.upper(), path, headers, body)
        except AcmeProblem as problem:
            response = self._problem(problem)
        except Exception:  # a bug must not kill the connection thread nor leak a traceback to the client
            logger.exception("ACME request %s %s failed", method, path)
            response = self._problem(AcmeProblem("serverInternal", "internal server error"))
        response.headers.append(("Link", f'<{self.directory_url}>;rel="index"'))
        if method.upper() == "POST" and response.header("Replay-Nonce") is None:
            response.headers.append(("Replay-Nonce", self.new_nonce()))
        return response

    def _problem(self, problem: AcmeProblem) -> Response:
        body = json.dumps(problem.document()).encode()
        headers = [("Content-Type", PROBLEM_JSON)] + list(problem.headers.items())
        return Response(problem.status, headers, body)

    def _json(
        self, status: int, obj: Any, *, location: str | None = None, extra: list[tuple[str, str]] | None = None
    ) -> Response:
        headers = [("Content-Type", JSON)]
        if location is not None:
            headers.append(("Location", location))
        headers.extend(extra or [])
        return Response(status, headers, json.dumps(obj, indent=2).encode())

    def _dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if path == "/directory":
            if method not in ("GET", "HEAD"):
                raise AcmeProblem("malformed", "the directory is read with GET", status=405, headers=_ALLOW_GET)
            return self._json(200, self.directory())
        if path == "/acme/new-nonce":
            if method not in ("GET", "HEAD"):
                raise AcmeProblem("malformed", "newNonce is read with HEAD or GET", status=405, headers=_ALLOW_GET)
            # RFC 8555 section 7.2: 200 for HEAD, 204 for GET, never cached
            return Response(
                200 if method == "HEAD" else 204, [("Replay-Nonce", self.new_nonce()), ("Cache-Control", "no-store")]
            )
        if method != "POST":
            # RFC 8555 section 6.3: everything else is read with POST-as-GET
            raise AcmeProblem("malformed", "use POST (POST-as-GET to read)", status=405, headers={"Allow": "POST"})
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != JOSE_JSON:
            raise AcmeProblem("malformed", f"Content-Type must be {JOSE_JSON}", status=415)
        for prefix, handler, jwk_allowed in self._routes:
            if path == prefix:
                request, account = self._authenticate(path, body, jwk_allowed=jwk_allowed)
                return handler(request, account)
        parts = path.strip("/").split("/")
        resource = {
            ("acme", "acct"): self._account,
            ("acme", "order"): self._order,
            ("acme", "authz"): self._authz,
            ("acme", "chall"): self._challenge,
            ("acme", "cert"): self._certificate,
        }
        if len(parts) in (3, 4) and tuple(parts[:2]) in resource:
            request, account = self._authenticate(path, body, jwk_allowed=False)
            sub = parts[3] if len(parts) == 4 else None
            return resource[(parts[0], parts[1])](request, account, parts[2], sub)
        raise AcmeProblem("malformed", f"no ACME resource at {path}", status=404)

    # -- authentication (RFC 8555 section 6.2-6.5) ---------------------------------------------

    def _authenticate(self, path: str, body: bytes, *, jwk_allowed: bool) -> tuple[SignedRequest, str | None]:
        """The parsed, verified request and its account id (None for a jwk-signed request)."""
        request = parse_request(body)
        # Section 6.4: the url in the protected header must be the one the request went to
        if request.url != self.url(path):
            raise AcmeProblem("unauthorized", f"the JWS url {request.url!r} is not the URL of this request")
        self._consume_nonce(request.nonce)
        if request.jwk is not None:
            if not jwk_allowed:
                raise AcmeProblem("malformed", "this request must be signed with the account key (kid), not a jwk")
            request.verify(request.jwk)
            return request, None
        account_id = self._account_id_from_kid(request.kid)
        account = self.store.get("account", account_id)
        if account is None:
            raise AcmeProblem("accountDoesNotExist", "no account has this kid")
        request.verify(decode_jwk(account["jwk"]))
        if account["status"] != "valid":
            # Section 7.3.6: requests of a deactivated account get 401 unauthorized
            raise AcmeProblem("unauthorized", f"the account is {account['status']}", status=401)
        return request, account_id

    def _account_id_from_kid(self, kid: str | None) -> str:
        prefix = self.url("/acme/acct/")
        if kid is None or not kid.startswith(prefix) or "/" in kid[len(prefix):] or not kid[len(prefix):]:
            raise AcmeProblem("accountDoesNotExist", "the kid is not an account URL of this server")
        return kid[len(prefix):]

    def _require_account(self, account: str | None) -> str:
        if account is None:  # pragma: no cover - the router allows jwk only where it is handled
            raise AcmeProblem("malformed", "this request must be signed with the account key (kid)")
        return account

    def _owned(self, kind: str, ident: str, account: str) -> dict[str, Any]:
        obj = self.store.get(kind, ident)
        if obj is None:
            raise AcmeProblem("malformed", f"no such {kind}", status=404)
        if obj.get("account") != account:
            raise AcmeProblem("unauthorized", f"this {kind} belongs to another account")
        return obj

    # -- accounts (RFC 8555 section 7.3) ------------------------------------------------------------

    def _account_view(self, ident: str, account: dict[str, Any]) -> dict[str, Any]:
        view = {
            "status": account["status"],
            "contact": account.get("contact", []),
            "orders": self.url(f"/acme/acct/{ident}/orders"),
            "createdAt": account.get("createdAt"),
        }
        if account.get("termsOfServiceAgreed"):
            view["termsOfServiceAgreed"] = True
        return view

    @staticmethod
    def _contacts(value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise AcmeProblem("malformed", "contact must be a list of URLs")
        if len(value) > 10:
            raise AcmeProblem("invalidContact", "at most 10 contacts")
        for contact in value:
            if not contact.startswith("mailto:"):
                raise AcmeProblem("unsupportedContact", f"only mailto: contacts are supported, not {contact[:40]!r}")
            address = contact[len("mailto:"):]
            # RFC 8555 section 7.3: one address per mailto URL, no header fields
            local, at, domain = address.partition("@")
            if not (local and at and domain) or any(c in address for c in ",?& <>\r\n") or len(address) > 254:
                raise AcmeProblem("invalidContact", f"{contact[:60]!r} is not a single e-mail address")
        return list(value)

    def _new_account(self, request: SignedRequest, account: str | None) -> Response:
        if request.jwk is None:
            raise AcmeProblem("malformed", "newAccount must be signed with an embedded jwk, not a kid")
        payload = request.json_payload()
        key_id = thumbprint(request.jwk)
        with self.store.transaction():
            existing = self.store.account_for_key(key_id)
            if existing is not None:
                # Section 7.3.1: the account of this key, with 200 and its URL
                stored = self.store.get("account", existing) or {}
                if stored.get("status") != "valid":
                    raise AcmeProblem("unauthorized", f"the account of this key is {stored.get('status')}", status=401)
                return self._json(200, self._account_view(existing, stored), location=self.account_url(existing))
            if payload.get("onlyReturnExisting") is True:
                raise AcmeProblem("accountDoesNotExist", "no account exists with this key")
            contacts = self._contacts(payload.get("contact"))
            agreed = payload.get("termsOfServiceAgreed")
            if agreed is not None and not isinstance(agreed, bool):
                raise AcmeProblem("malformed", "termsOfServiceAgreed must be a boolean")
            ident = new_id()
            data = {
                "status": "valid",
                "contact": contacts,
                "termsOfServiceAgreed": bool(agreed),
                "jwk": request.jwk.public_key().to_json(),
                "createdAt": timestamp(now()),
                "account": ident,
            }
            self.store.put("account", ident, data, account=ident)
            self.store.bind_key(key_id, ident)
        return self._json(201, self._account_view(ident, data), location=self.account_url(ident))

    def _account(self, request: SignedRequest, account: str | None, ident: str, sub: str | None) -> Response:
        account = self._require_account(account)
        if ident != account:
            raise AcmeProblem("unauthorized", "the request is signed by another account")
        if sub == "orders":
            if not request.post_as_get:
                raise AcmeProblem("malformed", "the orders list is read with POST-as-GET")
            # Section 7.1.2.1: pending, ready, processing and valid orders; not invalid ones
            urls = [
                self.url(f"/acme/order/{oid}")
                for oid, order in self.store.owned_by("order", account)
                if self._refresh_order(oid, order)["status"] != "invalid"
            ]
            return self._json(200, {"orders": urls})
        if sub is not None:
            raise AcmeProblem("malformed", "no such account resource", status=404)
        with self.store.transaction():
            data = self.store.get("account", account)
            if data is None:  # pragma: no cover - authenticated a moment ago
                raise AcmeProblem("accountDoesNotExist", "no such account")
            if not request.post_as_get:
                payload = request.json_payload()
                if "contact" in payload:
                    data["contact"] = self._contacts(payload["contact"])
                if "status" in payload:
                    # Section 7.3.6: the client may only deactivate its account
                    if payload["status"] != "deactivated":
                        raise AcmeProblem("malformed", "an account's status can only be set to deactivated")
                    data["status"] = "deactivated"
                self.store.put("account", account, data, account=account)
        return self._json(200, self._account_view(account, data), location=self.account_url(account))

    def _key_change(self, request: SignedRequest, account: str | None) -> Response:
        """Section 7.3.5: the payload is a JWS signed by the new key over {account, oldKey}."""
        account = self._require_account(account)
        inner = parse_request(request.payload, need_nonce=False)
        if inner.jwk is None:
            raise AcmeProblem("malformed", "the inner JWS of a key change must carry the new key as jwk")
        if inner.url != request.url:
            raise AcmeProblem("malformed", "the inner JWS url must equal the outer one")
        inner.verify(inner.jwk)
        payload = inner.json_payload()
        if payload.get("account") != self.account_url(account):
            raise AcmeProblem("malformed", "the inner payload's account is not the signing account")
        with self.store.transaction():
            data = self.store.get("account", account) or {}
            try:
                old_key = decode_jwk(payload.get("oldKey"))
            except Exception:
                raise AcmeProblem("malformed", "the inner payload's oldKey is not a public JWK") from None
            if thumbprint(old_key) != thumbprint(decode_jwk(data["jwk"])):
                raise AcmeProblem("malformed", "oldKey is not the account's current key")
            new_id = thumbprint(inner.jwk)
            holder = self.store.account_for_key(new_id)
            if holder is not None:
                # Section 7.3.5: 409 with the URL of the account that has the key
                raise AcmeProblem(
                    "malformed", "the new key belongs to an account already", status=409,
                    headers={"Location": self.account_url(holder)},
                )
            data["jwk"] = inner.jwk.public_key().to_json()
            self.store.put("account", account, data, account=account)
            self.store.bind_key(new_id, account)
        return self._json(200, self._account_view(account, data), location=self.account_url(account))

    # -- orders, authorizations, challenges (RFC 8555 sections 7.4, 7.5) -------------------------

    def _order_view(self, ident: str, order: dict[str, Any]) -> dict[str, Any]:
        view: dict[str, Any] = {
            "status": order["status"],
            "expires": order["expires"],
            "identifiers": order["identifiers"],
            "authorizations": [self.url(f"/acme/authz/{a}") for a in order["authorizations"]],
            "finalize": self.url(f"/acme/order/{ident}/finalize"),
        }
        if order.get("certificate"):
            view["certificate"] = self.url(f"/acme/cert/{order['certificate']}")
        if order.get("error"):
            view["error"] = order["error"]
        return view

    def _challenge_view(self, ident: str, chall: dict[str, Any]) -> dict[str, Any]:
        view = {
            "type": chall["type"],
            "url": self.url(f"/acme/chall/{ident}"),
            "status": chall["status"],
            "token": chall["token"],
        }
        if chall.get("validated"):
            view["validated"] = chall["validated"]
        if chall.get("error"):
            view["error"] = chall["error"]
        return view

    def _authz_view(self, ident: str, authz: dict[str, Any]) -> dict[str, Any]:
        challenges = []
        for cid in authz["challenges"]:
            chall = self.store.get("challenge", cid)
            if chall is not None:
                challenges.append(self._challenge_view(cid, chall))
        return {
            "identifier": authz["identifier"],
            "status": authz["status"],
            "expires": authz["expires"],
            "challenges": challenges,
        }

    def _refresh_authz(self, ident: str, authz: dict[str, Any]) -> dict[str, Any]:
        """Section 7.1.6: a pending or valid authorization past its expiry is expired."""
        if authz["status"] in ("pending", "valid") and parse_timestamp(authz["expires"]) <= now():
            authz["status"] = "expired"
            self.store.put("authz", ident, authz, account=authz["account"])
        return authz

    def _refresh_order(self, ident: str, order: dict[str, Any]) -> dict[str, Any]:
        """Section 7.1.6: pending -> ready once every authorization is valid, invalid if one fails
        or the order expires before it is finalized."""
        with self.store.transaction():
            fresh = self.store.get("order", ident) or order
            status = fresh["status"]
            if status in ("pending", "ready") and parse_timestamp(fresh["expires"]) <= now():
                status = "invalid"
                fresh["error"] = AcmeProblem("malformed", "the order expired").document()
            elif status == "pending":
                states = []
                for authz_id in fresh["authorizations"]:
                    authz = self.store.get("authz", authz_id)
                    states.append(self._refresh_authz(authz_id, authz)["status"] if authz else "invalid")
                if any(state not in ("valid", "pending") for state in states):
                    status = "invalid"
                    fresh["error"] = AcmeProblem("unauthorized", "an authorization of this order failed").document()
                elif all(state == "valid" for state in states):
                    status = "ready"
            if status != fresh["status"]:
                fresh["status"] = status
                self.store.put("order", ident, fresh, account=fresh["account"])
        return fresh

    def _check_policy(self, identifiers: list[tuple[str, str]]) -> None:
        """Refuse at once what the CA's name constraints would refuse at finalization."""
        try:
            self.ca.policy.check([idents.to_general_name(i) for i in identifiers])
        except CAError as exc:
            raise AcmeProblem("rejectedIdentifier", str(exc)) from None

    def _new_order(self, request: SignedRequest, account: str | None) -> Response:
        account = self._require_account(account)
        payload = request.json_payload()
        identifiers = idents.parse_identifiers(payload.get("identifiers"))
        if payload.get("notBefore") is not None or payload.get("notAfter") is not None:
            # Section 7.4: a server that cannot honour them must refuse; the CA sets validity
            raise AcmeProblem("malformed", f"notBefore/notAfter are not supported: certificates last {self.days} days")
        self._check_policy(identifiers)
        created = now()
        expires = timestamp(created + self.order_lifetime)
        order_id = new_id()
        authz_ids = []
        with self.store.transaction():
            for ident in identifiers:
                authz_id = new_id()
                challenge_ids = []
                for kind in CHALLENGE_TYPES:
                    cid = new_id()
                    # Section 8.1: a token of at least 128 bits of entropy, base64url
                    token = secrets.token_urlsafe(32)
                    chall = {"type": kind, "status": "pending", "token": token, "authz": authz_id, "account": account}
                    self.store.put("challenge", cid, chall, account=account)
                    challenge_ids.append(cid)
                authz = {
                    "identifier": idents.as_json(ident),
                    "status": "pending",
                    "expires": expires,
                    "challenges": challenge_ids,
                    "account": account,
                }
                self.store.put("authz", authz_id, authz, account=account)
                authz_ids.append(authz_id)
            order = {
                "status": "pending",
                "expires": expires,
                "identifiers": [idents.as_json(i) for i in identifiers],
                "authorizations": authz_ids,
                "account": account,
                "certificate": None,
                "error": None,
            }
            self.store.put("order", order_id, order, account=account)
        url = self.url(f"/acme/order/{order_id}")
        return self._json(201, self._order_view(order_id, order), location=url)

    def _order(self, request: SignedRequest, account: str | None, ident: str, sub: str | None) -> Response:
        account = self._require_account(account)
        order = self._owned("order", ident, account)
        if sub == "finalize":
            return self._finalize(request, account, ident)
        if sub is not None:
            raise AcmeProblem("malformed", "no such order resource", status=404)
        if not request.post_as_get:
            raise AcmeProblem("malformed", "an order is read with POST-as-GET")
        order = self._refresh_order(ident, order)
        extra = [("Retry-After", "1")] if order["status"] == "processing" else []
        return self._json(200, self._order_view(ident, order), location=self.url(f"/acme/order/{ident}"), extra=extra)

    def _authz(self, request: SignedRequest, account: str | None, ident: str, sub: str | None) -> Response:
        account = self._require_account(account)
        if sub is not None:
            raise AcmeProblem("malformed", "no such authorization resource", status=404)
        authz = self._refresh_authz(ident, self._owned("authz", ident, account))
        if not request.post_as_get:
            payload = request.json_payload()
            # Section 7.5.2: the client may deactivate a pending or valid authorization
            if payload.get("status") != "deactivated":
                raise AcmeProblem("malformed", "an authorization's status can only be set to deactivated")
            if authz["status"] not in ("pending", "valid"):
                raise AcmeProblem("malformed", f"the authorization is {authz['status']}")
            authz["status"] = "deactivated"
            self.store.put("authz", ident, authz, account=account)
        extra = []
        if any((self.store.get("challenge", c) or {}).get("status") == "processing" for c in authz["challenges"]):
            extra.append(("Retry-After", "1"))
        return self._json(200, self._authz_view(ident, authz), extra=extra)

    def _challenge(self, request: SignedRequest, account: str | None, ident: str, sub: str | None) -> Response:
        account = self._require_account(account)
        if sub is not None:
            raise AcmeProblem("malformed", "no such challenge resource", status=404)
        chall = self._owned("challenge", ident, account)
        if not request.post_as_get:
            request.json_payload()  # section 7.5.1: the response is an (empty) JSON object
            chall = self._start_validation(ident)
        links = [("Link", f'<{self.url("/acme/authz/" + chall["authz"])}>;rel="up"')]
        if chall["status"] == "processing":
            links.append(("Retry-After", "1"))
        return self._json(200, self._challenge_view(ident, chall), extra=links)

    def _start_validation(self, ident: str) -> dict[str, Any]:
        with self.store.transaction():
            chall = self.store.get("challenge", ident) or {}
            authz = self._refresh_authz(chall["authz"], self.store.get("authz", chall["authz"]) or {})
            if chall["status"] != "pending" or authz.get("status") != "pending":
                return chall  # already answered: report where it stands (section 7.5.1)
            chall["status"] = "processing"
            self.store.put("challenge", ident, chall, account=chall["account"])
        if self._closed:
            raise AcmeProblem("serverInternal", "the server is shutting down")
        self._validations.submit(self._validate, ident)
        return chall

    def _resume_validations(self) -> None:
        """Validations cut short by a stop (their challenges say "processing") run again."""
        for ident, chall in self.store.each("challenge"):
            if chall.get("status") == "processing":
                self._validations.submit(self._validate, ident)

    def _validate(self, ident: str) -> None:
        chall = self.store.get("challenge", ident)
        if chall is None:  # pragma: no cover - challenges are never deleted
            return
        authz = self.store.get("authz", chall["authz"]) or {}
        account = self.store.get("account", chall["account"]) or {}
        error: dict[str, Any] | None = None
        try:
            key_authorization = f"{chall['token']}.{thumbprint(decode_jwk(account['jwk']))}"
            kind, value = authz["identifier"]["type"], authz["identifier"]["value"]
            target = Target(
                identifier_type=kind,
                identifier=value,
                token=chall["token"],
                key_authorization=key_authorization,
                address=self.validation_address or value,
                port=self.ports[chall["type"]],
                timeout=self.validation_timeout,
            )
            VALIDATORS[chall["type"]](target)
        except AcmeProblem as problem:
            error = problem.document()
        except Exception as exc:  # a validator bug fails this challenge, not the server
            logger.exception("validating challenge %s failed", ident)
            error = AcmeProblem("serverInternal", f"validation failed: {type(exc).__name__}").document()
        with self.store.transaction():
            chall = self.store.get("challenge", ident) or chall
            authz = self.store.get("authz", chall["authz"]) or authz
            if chall["status"] != "processing":  # pragma: no cover - only this worker moves it on
                return
            if error is None:
                chall["status"] = "valid"
                chall["validated"] = timestamp(now())
                if authz.get("status") == "pending":
                    authz["status"] = "valid"
                    # Section 7.1.4: a valid authorization has the expiry of the validation it rests on
            else:
                chall["status"] = "invalid"
                chall["error"] = {**error, "identifier": authz.get("identifier")} if authz else error
                if authz.get("status") == "pending":
                    authz["status"] = "invalid"
            self.store.put("challenge", ident, chall, account=chall["account"])
            if authz:
                self.store.put("authz", chall["authz"], authz, account=authz["account"])

    def close(self) -> None:
        """Wait for validations in flight (each bounded by its timeout), then stop."""
        self._closed = True
        self._validations.shutdown(wait=True, cancel_futures=True)
