"""An in-memory CA for tests, demos and benchmarks: a trustme-sized front door.

    from tlskit.ca import EphemeralCA
    ca = EphemeralCA()                                  # root + intermediate, ECDSA P-256
    server = ca.issue_cert("localhost", "127.0.0.1")    # .key_pem, .cert_pem, .chain_pem (bytes)
    config = ca.server_config(server)                   # a tlskit ServerConfig
    ca.configure_trust(ssl_context)                     # a stdlib ssl peer trusts the root

Nothing touches the disk unless asked (``PEM.tempfile()``, ``EphemeralCertificate.tempfiles()``,
``write_files()``). The certificates are the ones the on-disk CA issues: the same key types
(:mod:`tlskit.ca.keys`) and the same profiles (:mod:`tlskit.ca.profiles`); what this class
leaves out is the directory, the index, revocation and passphrases, which a throwaway CA
does not need. Every name of trustme's ``CA``/``LeafCert``/``Blob`` that a test is likely
to use exists here too (``issue_cert``, ``cert_pem``, ``private_key_pem``,
``cert_chain_pems``, ``private_key_and_cert_chain_pem``, ``configure_trust``,
``configure_cert``, ``Blob.bytes/tempfile/write_to_path``).
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import os
import pathlib
import secrets
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca import files
from tlskit.ca.errors import CAError
from tlskit.ca.keys import PrivateKey, check_key_type, generate_key, key_type_of, private_key_pem, signature_hash
from tlskit.ca.profiles import (
    ca_builder,
    check_days,
    check_profile,
    file_stem,
    leaf_builder,
    parse_san,
    subject_name,
    validity,
)

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.engine.config import ClientConfig, ServerConfig
    from tlskit.pki import TrustStore

PathLike = Union[str, "os.PathLike[str]"]

#: the names a server certificate gets when none are given: what a loopback test dials
DEFAULT_SERVER_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
DEFAULT_CLIENT_NAME = "tlskit test client"


class PEM(bytes):
    """PEM-encoded bytes, with the helpers of trustme's ``Blob``.

    It *is* ``bytes`` (configs, ``ssl`` and ``cryptography`` take it as is); ``repr``
    never shows a private key's contents.
    """

    _private = False

    def bytes(self) -> builtins.bytes:
        """The data as plain ``bytes`` (trustme's ``Blob.bytes()``)."""
        return builtins.bytes(self)

    def write_to_path(self, path: PathLike, append: bool = False) -> None:
        """Write (or with ``append``, append) the data to ``path``; a private key's file
        is created with mode 0600, never created readable and narrowed afterwards."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(path, flags, 0o600 if self._private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(self)

    @contextlib.contextmanager
    def tempfile(self, dir: Optional[PathLike] = None) -> Iterator[str]:
        """A temporary file holding the data, deleted when the ``with`` block ends
        (for libraries that take only paths). ``mkstemp`` creates it with mode 0600."""
        fd, name = tempfile.mkstemp(suffix=".pem", dir=dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self)
            yield name
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def __repr__(self) -> str:
        if self._private:
            return f"<PEM private key, {len(self)} bytes>"
        return f"<PEM {self.count(b'-----BEGIN ')} block(s), {len(self)} bytes>"

    __str__ = __repr__



class _PrivatePEM(PEM):
    _private = True


def _pem(cert: x509.Certificate) -> PEM:
    return PEM(cert.public_bytes(serialization.Encoding.PEM))


def _key_pem(key: PrivateKey) -> PEM:
    return _PrivatePEM(private_key_pem(key))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class CertificateFiles:
    """Paths of an issued certificate written to disk (see :meth:`EphemeralCertificate.tempfiles`)."""

    key: pathlib.Path  # the private key, PKCS#8 PEM, mode 0600
    cert: pathlib.Path  # the leaf alone
    chain: pathlib.Path  # leaf + intermediate: what a server or client sends
    root: pathlib.Path  # the CA's root: the trust anchor for the other side


class EphemeralCertificate:
    """A certificate issued by an :class:`EphemeralCA`, with its key, all in memory."""

    def __init__(
        self, ca: "EphemeralCA", certificate: x509.Certificate, key: PrivateKey, names: tuple[str, ...]
    ) -> None:
        self.ca = ca
        #: the leaf as a pyca/cryptography object
        self.certificate = certificate
        #: the leaf's private key as a pyca/cryptography object
        self.private_key = key
        #: the identities the certificate was issued for, as given
        self.names = names
        self.key_pem: PEM = _key_pem(key)
        self.cert_pem: PEM = _pem(certificate)
        #: the leaf and the intermediates (leaf first, root left out): what a peer sends
        self.cert_chain_pems: list[PEM] = [self.cert_pem] + [_pem(c) for c in ca.intermediates]
        self.chain_pem: PEM = PEM(b"".join(self.cert_chain_pems))

    @property
    def private_key_pem(self) -> PEM:
        """trustme's name for :attr:`key_pem`."""
        return self.key_pem

    @property
    def private_key_and_cert_chain_pem(self) -> PEM:
        """The key followed by the chain, in one PEM (what some servers load from one file)."""
        return _PrivatePEM(self.key_pem + self.chain_pem)

    @property
    def chain_der(self) -> tuple[bytes, ...]:
        """The chain as DER, leaf first (the root left out)."""
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in (self.certificate, *self.ca.intermediates))

    @contextlib.contextmanager
    def tempfiles(self, dir: Optional[PathLike] = None) -> Iterator[CertificateFiles]:
        """Key, leaf, chain and root written to a fresh temporary directory (mode 0700,
        the key 0600), removed with everything in it when the ``with`` block ends."""
        directory = pathlib.Path(tempfile.mkdtemp(prefix="tlskit-ephemeral-", dir=dir))
        try:
            yield self.write_files(directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def write_files(self, directory: PathLike, stem: str = "cert", *, overwrite: bool = False) -> CertificateFiles:
        """Write ``<stem>.key`` (0600), ``<stem>.crt``, ``<stem>.chain.pem`` and ``root.pem``
        into ``directory`` atomically; an existing file is an error unless ``overwrite``."""
        directory = pathlib.Path(directory)
        stem = file_stem(stem)  # a name, never a path: "../x" or "/etc/x" is refused
        paths = CertificateFiles(
            key=directory / f"{stem}.key",
            cert=directory / f"{stem}.crt",
            chain=directory / f"{stem}.chain.pem",
            root=directory / "root.pem",
        )
        files.atomic_write(paths.key, self.key_pem, private=True, overwrite=overwrite)
        files.atomic_write(paths.cert, self.cert_pem, overwrite=overwrite)
        files.atomic_write(paths.chain, self.chain_pem, overwrite=overwrite)
        files.atomic_write(paths.root, self.ca.root_pem, overwrite=overwrite)
        return paths

    def configure_cert(self, context: ssl.SSLContext) -> None:
        """Make a stdlib ``ssl`` context present this certificate (server side, or client
        certificate). ``ssl`` loads chains from files only, so they live in a temporary
        directory for the duration of the call."""
        with self.tempfiles() as paths:
            context.load_cert_chain(paths.chain, paths.key)

    def __repr__(self) -> str:
        return f"<EphemeralCertificate {', '.join(self.names) or self.certificate.subject.rfc4514_string()}>"


class EphemeralCA:
    """A throwaway certificate authority that lives in memory.

    ``key_type`` is one of :data:`tlskit.ca.KEY_TYPES` (default ECDSA P-256: fast to make and
    understood by every peer and every provider but PyNaCl, which wants ``"ed25519"``).
    With ``intermediate=True`` (the default) leaves are issued by an intermediate CA,
    as in real deployments, so chain building is exercised; ``days`` bounds every
    certificate's validity and ``now`` moves the validity window (for tests with a fixed clock).
    """

    def __init__(
        self,
        *,
        key_type: str = "ecdsa-p256",
        intermediate: bool = True,
        name: Optional[str] = None,
        days: int = 365,
        now: Optional[datetime.datetime] = None,
    ) -> None:
        self.key_type = check_key_type(key_type)
        self.days = check_days(days)
        if now is not None and (not isinstance(now, datetime.datetime) or now.utcoffset() is None):
            raise CAError("now must be a timezone-aware datetime (e.g. datetime.now(timezone.utc))")
        self._now = now
        # A random tag keeps two CAs of one process (or of two test runs) apart: verifiers
        # that look issuers up by subject name must never confuse them.
        tag = secrets.token_hex(4)
        root_name = name or f"tlskit ephemeral Root CA {tag}"
        self._root_key = generate_key(key_type)
        self.root_certificate = self._ca_certificate(
            root_name, self._root_key, None, self._root_key, path_length=1 if intermediate else 0
        )
        self.intermediates: tuple[x509.Certificate, ...] = ()
        self._issuer_key = self._root_key
        self._issuer = self.root_certificate
        if intermediate:
            inter_key = generate_key(key_type)
            inter = self._ca_certificate(_intermediate_name(root_name), inter_key, self.root_certificate, self._root_key, path_length=0)
            self.intermediates = (inter,)
            self._issuer_key, self._issuer = inter_key, inter
        self.root_pem: PEM = _pem(self.root_certificate)

    # -- the CA's own certificates ---------------------------------------------------

    @property
    def cert_pem(self) -> PEM:
        """trustme's name for :attr:`root_pem`: the certificate to trust."""
        return self.root_pem

    @property
    def intermediate_pem(self) -> Optional[PEM]:
        """The intermediate CA's certificate (None for a CA made with ``intermediate=False``)."""
        return _pem(self.intermediates[0]) if self.intermediates else None

    @property
    def private_key_pem(self) -> PEM:
        """The root's private key (trustme's ``CA.private_key_pem``), for tests that sign
        with another tool. The CA is a test fixture: this key protects nothing."""
        return _key_pem(self._root_key)

    @property
    def issuer_key_pem(self) -> PEM:
        """The private key that signs leaves (the intermediate's; the root's without one),
        for tests that sign what an issuer signs: OCSP responses, CRLs, odd certificates."""
        return _key_pem(self._issuer_key)

    def _clock(self) -> datetime.datetime:
        return self._now if self._now is not None else _now()

    def _ca_certificate(
        self, common_name: str, key: PrivateKey, issuer: Optional[x509.Certificate], issuer_key: PrivateKey, *, path_length: int
    ) -> x509.Certificate:
        limit = issuer.not_valid_after_utc if issuer is not None else None
        not_before, not_after = validity(self.days, now=self._clock(), limit=limit)
        subject = subject_name(common_name)
        return ca_builder(
            subject,
            key.public_key(),
            issuer=issuer.subject if issuer is not None else subject,
            issuer_public_key=issuer_key.public_key(),
            serial=x509.random_serial_number(),
            not_before=not_before,
            not_after=not_after,
            path_length=path_length,
            permit_dns=None,
        ).sign(issuer_key, signature_hash(issuer_key))

    # -- issuing ------------------------------------------------------------------------

    def issue_cert(
        self,
        *names: str,
        client: bool = False,
        profile: Optional[str] = None,
        key_type: Optional[str] = None,
        key: Optional[PrivateKey] = None,
        common_name: Optional[str] = None,
        days: Optional[int] = None,
    ) -> EphemeralCertificate:
        """A new key and a certificate for ``names``.

        Names are DNS names (``*.example.com`` and IDNs too), IP addresses, email
        addresses, or ``URI:...`` (or any ``DNS:``/``IP:``/``email:`` prefixed form). A server
        certificate (the default) needs one; with ``client=True`` the certificate is for
        client authentication and names are optional. ``profile`` ("server", "client" or
        "both") overrides ``client``. ``key_type`` defaults to the CA's; ``key`` certifies
        an existing private key instead of making one. ``common_name`` defaults to the
        first name that fits in a CN.
        """
        if profile is None:
            profile = "client" if client else "server"
        check_profile(profile)
        for value in names:
            if not isinstance(value, str):
                raise CAError(f"a certificate name is a str, not {type(value).__name__}")
        sans = []
        for value in names:
            general = parse_san(value)
            if general not in sans:
                sans.append(general)
        if profile in ("server", "both") and not sans:
            raise CAError("a server certificate needs at least one name (a DNS name or an IP address)")
        if key is None:
            key = generate_key(check_key_type(key_type or self.key_type))
        else:
            key_type_of(key)  # refuses key algorithms the CA does not certify
        if common_name is None:
            common_name = next((n.partition(":")[2] if _prefixed(n) else n for n in names if 0 < len(n) <= 64), None)
            common_name = common_name or DEFAULT_CLIENT_NAME
        not_before, not_after = validity(
            check_days(days if days is not None else self.days), now=self._clock(), limit=self._issuer.not_valid_after_utc
        )
        certificate = leaf_builder(
            common_name,
            key.public_key(),
            sans,
            profile=profile,
            issuer_cert=self._issuer,
            serial=x509.random_serial_number(),
            not_before=not_before,
            not_after=not_after,
        ).sign(self._issuer_key, signature_hash(self._issuer_key))
        return EphemeralCertificate(self, certificate, key, tuple(names))

    # -- trust --------------------------------------------------------------------------

    def configure_trust(self, context: ssl.SSLContext) -> None:
        """Make a stdlib ``ssl`` context trust this CA's root."""
        context.load_verify_locations(cadata=self.root_pem.decode("ascii"))

    def trust_store(self) -> "TrustStore":
        """A :class:`tlskit.pki.TrustStore` holding this CA's root."""
        from tlskit.pki import TrustStore

        return TrustStore.from_pem(self.root_pem)

    def client_ssl_context(self, cert: Optional[EphemeralCertificate] = None) -> ssl.SSLContext:
        """A stdlib client context (hostname checks on) that trusts this CA; with ``cert``,
        it also presents that client certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.configure_trust(context)
        if cert is not None:
            cert.configure_cert(context)
        return context

    def server_ssl_context(
        self, cert: Optional[EphemeralCertificate] = None, *, client_auth: bool = False
    ) -> ssl.SSLContext:
        """A stdlib server context presenting ``cert`` (default: a new certificate for
        localhost, 127.0.0.1 and ::1); with ``client_auth``, it requires a client
        certificate from this CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        (cert or self.issue_cert(*DEFAULT_SERVER_NAMES)).configure_cert(context)
        if client_auth:
            self.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    # -- tlskit configs -----------------------------------------------------------------

    def server_config(
        self, cert: Optional[EphemeralCertificate] = None, *, client_auth: bool = False, **overrides: Any
    ) -> "ServerConfig":
        """A :class:`tlskit.ServerConfig` presenting ``cert`` (default: a new certificate
        for localhost, 127.0.0.1 and ::1). ``client_auth=True`` requires a client
        certificate from this CA. Other keywords are ServerConfig fields, passed through."""
        from tlskit.engine.config import ServerConfig

        return ServerConfig(**{**self.server_options(cert, client_auth=client_auth), **overrides})

    def client_config(self, cert: Optional[EphemeralCertificate] = None, **overrides: Any) -> "ClientConfig":
        """A :class:`tlskit.ClientConfig` that trusts this CA (and only it); with ``cert``,
        it presents that client certificate. Other keywords are ClientConfig fields."""
        from tlskit.engine.config import ClientConfig

        options: dict[str, Any] = {"cadata": self.root_pem}
        if cert is not None:
            options.update(certfile=cert.chain_pem, keyfile=cert.key_pem)
        options.update(overrides)
        return ClientConfig(**options)

    def server_options(self, cert: Optional[EphemeralCertificate] = None, *, client_auth: bool = False) -> dict[str, Any]:
        """The ServerConfig keywords :meth:`server_config` uses, for ``tlskit.serve(**...)``."""
        cert = cert or self.issue_cert(*DEFAULT_SERVER_NAMES)
        options: dict[str, Any] = {"certfile": cert.chain_pem, "keyfile": cert.key_pem}
        if client_auth:
            options.update(client_cadata=self.root_pem, require_client_auth=True)
        return options

    def __repr__(self) -> str:
        levels = "root + intermediate" if self.intermediates else "root only"
        return f"<EphemeralCA {self.root_certificate.subject.rfc4514_string()} ({self.key_type}, {levels})>"


def _intermediate_name(root_name: str) -> str:
    """"X Root CA" -> "X Intermediate CA"; any other name gets " Intermediate" appended."""
    head, found, tail = root_name.rpartition("Root")
    name = f"{head}Intermediate{tail}" if found else f"{root_name} Intermediate"
    if len(name) > 64:  # a CN is at most 64 characters (RFC 5280 ub-common-name)
        name = f"{root_name[:64 - len(' Intermediate')]} Intermediate"
    return name


def _prefixed(name: str) -> bool:
    kind, sep, _ = name.partition(":")
    return bool(sep) and kind.lower() in ("dns", "ip", "email", "uri")


__all__: Sequence[str] = ["CertificateFiles", "EphemeralCA", "EphemeralCertificate", "PEM"]
