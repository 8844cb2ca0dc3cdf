"""Trust stores: the set of trust anchors a path must end at."""

from __future__ import annotations

import os
import re
import ssl
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from tlskit.pki.cache import BoundedCache
from tlskit.pki.certinfo import CertInfo
from tlskit.pki.errors import MalformedCertificate
from tlskit.pki.loading import (
    CertificateLike,
    PathLike,
    certificate_from_der,
    coerce_certificate,
    load_certificates,
    pem_blocks,
)

# Files a CA directory usually holds: PEM/DER certificates and OpenSSL c_rehash links.
_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".cert"}
_REHASH_NAME = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")

#: Path plans a store keeps (tlskit.pki.verify: paths found straight, replayed with every
#: time-, name- and signature-dependent check redone).
PLAN_CACHE_SIZE = 64

# Where Linux/BSD distributions keep the system bundle when certifi is not installed.
_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
)


class TrustStore:
    """Trust anchors, indexed by subject for path building.

    Anchors are deduplicated by their DER encoding. ``len(store)`` is the anchor count.
    The store also keeps the path plans of tlskit.pki.verify (bounded); adding an anchor
    drops them, since it may change which path a search finds.
    """

    def __init__(self, certificates: Iterable[CertificateLike] = ()) -> None:
        self._anchors: list[CertInfo] = []
        self._by_der: dict[bytes, CertInfo] = {}
        self._by_subject: dict[bytes, list[CertInfo]] = {}
        #: path plans (tlskit.pki.verify), keyed with ``plan_version``
        self.plans: BoundedCache[Any] = BoundedCache(PLAN_CACHE_SIZE)
        #: bumped by every change of the anchors: a plan made before never matches again
        self.plan_version = 0
        for cert in certificates:
            self.add(cert)

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_certificates(cls, certs: Iterable[CertificateLike]) -> "TrustStore":
        return cls(certs)

    @classmethod
    def from_pem(cls, data: bytes | str) -> "TrustStore":
        if isinstance(data, str):
            data = data.encode("ascii", "replace")
        return cls(load_certificates(data))

    @classmethod
    def from_file(cls, path: PathLike) -> "TrustStore":
        return cls(load_certificates(path))

    @classmethod
    def from_directory(cls, path: PathLike) -> "TrustStore":
        """Every certificate file (``*.pem``, ``*.crt``, ``*.cer``, ``*.der``, c_rehash links)."""
        directory = Path(path)
        if not directory.is_dir():
            raise MalformedCertificate(f"{os.fspath(path)}: not a directory")
        store = cls()
        try:
            entries = sorted(directory.iterdir())
        except OSError as exc:
            raise MalformedCertificate(f"{os.fspath(path)}: cannot list the directory ({exc.strerror or exc})") from None
        for entry in entries:
            if not entry.is_file():
                continue
            if entry.suffix.lower() in _CERT_SUFFIXES or _REHASH_NAME.match(entry.name):
                for cert in load_certificates(entry):
                    store.add(cert)
        return store

    @classmethod
    def system(cls) -> "TrustStore":
        """The system's roots: certifi if installed, else the platform bundle OpenSSL uses."""
        candidates: list[str] = []
        try:
            import certifi  # optional dependency (extra "system-roots")

            candidates.append(certifi.where())
        except ImportError:
            pass
        paths = ssl.get_default_verify_paths()
        for name in (paths.cafile, paths.openssl_cafile):
            if name:
                candidates.append(name)
        candidates.extend(_SYSTEM_BUNDLES)
        for name in candidates:
            if name and os.path.isfile(name):
                return cls._from_bundle_skipping_bad(name)
        for name in (paths.capath, paths.openssl_capath):
            if name and os.path.isdir(name):
                store = cls.from_directory(name)
                if len(store):
                    return store
        raise MalformedCertificate("no system trust store found (install certifi or a CA bundle)")

    @classmethod
    def _from_bundle_skipping_bad(cls, path: str) -> "TrustStore":
        # A platform bundle is not ours to fix: one root that a future cryptography
        # refuses to parse must not take every other root down with it.
        store = cls()
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise MalformedCertificate(f"{path}: cannot read the system bundle ({exc.strerror or exc})") from None
        with warnings.catch_warnings():
            # Old roots with serial 0 make cryptography warn; anchors are taken as they are.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            for der in pem_blocks(data, {b"CERTIFICATE", b"TRUSTED CERTIFICATE"}, path):
                try:
                    store.add(certificate_from_der(der, path))
                except MalformedCertificate:
                    continue
        return store

    # -- contents -------------------------------------------------------------------
    def add(self, cert: CertificateLike) -> None:
        info = CertInfo.of(coerce_certificate(cert, "trust anchor"))
        if info.der in self._by_der:
            return
        self._invalidate_plans()
        self._by_der[info.der] = info
        self._anchors.append(info)
        self._by_subject.setdefault(info.subject_der, []).append(info)
        # and after: a search that read the version while the anchors were changing
        # must not store a plan under the version that follows the change
        self._invalidate_plans()

    def _invalidate_plans(self) -> None:
        self.plan_version += 1
        self.plans.clear()

    def __len__(self) -> int:
        return len(self._anchors)

    def __iter__(self) -> Iterator[x509.Certificate]:
        return (info.cert for info in self._anchors)

    def __contains__(self, cert: object) -> bool:
        if isinstance(cert, x509.Certificate):
            return CertInfo.of(cert).der in self._by_der
        return False

    def certificates(self) -> list[x509.Certificate]:
        """The anchors, in the order they were added."""
        return [info.cert for info in self._anchors]

    def anchors_for(self, issuer_der: bytes) -> list[CertInfo]:
        """Anchors whose subject is exactly ``issuer_der`` (raw DER Name)."""
        return self._by_subject.get(issuer_der, [])

    def contains_der(self, der: bytes) -> bool:
        return der in self._by_der

    def __repr__(self) -> str:
        return f"<TrustStore {len(self)} anchors>"
