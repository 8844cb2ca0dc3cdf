"""The certificate authority on disk: init, load, issue, sign, revoke, renew.

Directory layout (one directory per CA)::

    ca.json              configuration (name, key type, intermediate?, encrypted?, policy, URLs)
    root.crt root.key    the trust anchor (the key signs only the intermediate and the root CRL)
    intermediate.crt/.key  the day-to-day issuer (absent with intermediate=False)
    index.sqlite         every issued certificate; the commit point of every change
    crl.pem              the issuing CA's last CRL;  root.crl.pem  the root's (covers the intermediate)
    issued/              default output directory of ``issue``

Crash safety: ``init`` builds the whole CA in a hidden sibling directory and renames
it into place, so a CA directory is either complete or absent. ``issue`` signs, writes
every output file as a hidden temporary, commits the index row, then renames the
temporaries into place: a failed write (read-only directory, full disk) happens before
the commit and leaves nothing; a failure to publish after it removes the row again; a
kill after the commit leaves a recorded certificate whose files may be missing, which
``check`` lists -- never a published certificate the index does not know.
"""

from __future__ import annotations

import builtins
import datetime
import os
import pathlib
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from cryptography import x509

from tlskit.ca import check as _check
from tlskit.ca import files, publish
from tlskit.ca.config import CAConfig, check_url
from tlskit.ca.create import (
    CONFIG_FILE,
    CRL_FILE,
    INDEX_FILE,
    INTERMEDIATE_CERT,
    INTERMEDIATE_KEY,
    ISSUED_DIR,
    ROOT_CERT,
    ROOT_CRL_FILE,
    ROOT_KEY,
    build_ca,
    create_directory,
    pem as _pem,
    url_for,
)
from tlskit.ca.crlserver import Publication
from tlskit.ca.csr import certificate_names, parse_csr
from tlskit.ca.crl import IntermediateRevocation, build_crl, parse_reason
from tlskit.ca.errors import CAError
from tlskit.ca.export import p12_bytes
from tlskit.ca.index import Index, IndexRecord, serial_hex
from tlskit.ca.keys import (
    PrivateKey,
    PublicKey,
    check_key_type,
    generate_key,
    key_type_of,
    load_private_key,
    private_key_pem,
    same_public_key,
    supported_public_key,
)
from tlskit.ca.policy import NamePolicy, parse_duration
from tlskit.ca.profiles import (
    CLOCK_SKEW,
    check_days,
    check_profile,
    common_name_of,
    default_sans,
    file_stem,
    looks_like_email,
    parse_sans,
    san_text,
    subject_name,
)
from tlskit.ca.results import IssuedCertificate, RenewalResult
from tlskit.ca.verify import verify_with_ca

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.pki import TrustStore, VerifiedPath

ENV_DIR = "TLSKIT_CA_DIR"
_INTERMEDIATE_REVOKED = "intermediate_revoked"


def _checkpoint(stage: str) -> None:
    """A no-op marking crash-relevant moments; crash-safety tests replace it in a child process."""


def _hook(stage: str) -> None:
    # Looked up at call time, so a test's replacement of _checkpoint reaches tlskit.ca.publish too.
    _checkpoint(stage)


def default_directory() -> pathlib.Path:
    """``$TLSKIT_CA_DIR``, else the per-user data directory's ``ca`` folder (the command
    line's default; the library never picks a directory by itself)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return pathlib.Path(env).expanduser()
    import platformdirs

    return pathlib.Path(platformdirs.user_data_dir("tlskit")) / "ca"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _passphrase(value: bytes | str | None) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not value:
        raise CAError("the passphrase is empty")
    return bytes(value)


class CertificateAuthority:
    """A mini-CA living in one directory. Create with :meth:`init`, open with :meth:`load`."""

    def __init__(self, directory: pathlib.Path, config: CAConfig, passphrase: bytes | None) -> None:
        self.directory = directory
        self.config = config
        self._passphrase = passphrase
        self._index = Index(directory / INDEX_FILE)
        self._signing_key: PrivateKey | None = None
        self._root_key: PrivateKey | None = None
        self._root: x509.Certificate | None = None
        self._intermediate: x509.Certificate | None = None

    # -- creation and loading ---------------------------------------------------------

    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str],
        *,
        name: str = "tlskit Root CA",
        key_type: str = "ecdsa-p256",
        intermediate: bool = True,
        days: int = 3650,
        passphrase: bytes | str | None = None,
        permit_dns: Sequence[str] | None = None,
        name_constraints: NamePolicy | None = None,
        crl_url: str | None = None,
        aia_url: str | None = None,
    ) -> "CertificateAuthority":
        """Create a new CA (root and, by default, an intermediate) in ``directory``, which
        must be absent or empty. ``permit_dns`` and ``name_constraints`` (a
        :class:`~tlskit.ca.policy.NamePolicy`) constrain every name the CA may certify;
        ``crl_url``/``aia_url`` are base URLs written into issued certificates (see
        ``tlskit ca serve-crl``)."""
        if directory is None:
            # A library call never creates a persistent CA in a place the caller did not name.
            raise CAError("CertificateAuthority.init needs a directory (the CLI defaults to $TLSKIT_CA_DIR)")
        target = pathlib.Path(directory).expanduser().absolute()
        check_key_type(key_type)
        check_days(days)
        secret = _passphrase(passphrase)
        permit = tuple(permit_dns or ())
        policy = name_constraints or NamePolicy()
        if permit:
            policy = NamePolicy.build(**{**{k: list(v) for k, v in policy.to_json().items()},
                                          "permit_dns": list(policy.permit_dns) + list(permit)})
        crl_base, aia_base = check_url(crl_url, "CRL URL"), check_url(aia_url, "AIA URL")
        root_subject = subject_name(name)
        config = create_directory(
            target, lambda staging: build_ca(
                staging, root_subject, key_type=key_type, intermediate=intermediate, days=days, secret=secret,
                permit_dns=permit, policy=policy, crl_url=crl_base, aia_url=aia_base, now=_now(),
            ), checkpoint=_hook,
        )
        return cls(target, config, secret)

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str] | None = None, passphrase: bytes | str | None = None
    ) -> "CertificateAuthority":
        """Open an existing CA (``directory`` defaults to :func:`default_directory`). Keys are
        read (and the passphrase checked) when first needed; an older index is upgraded."""
        target = pathlib.Path(directory).expanduser() if directory is not None else default_directory()
        target = target.absolute()
        config_path = target / CONFIG_FILE
        if not config_path.is_file():
            raise CAError(f"no CA in {target} (create one with: tlskit ca init --dir {target})")
        config = CAConfig.from_json(files.read_file(config_path, "CA configuration"), config_path)
        ca = cls(target, config, _passphrase(passphrase))
        ca._index.check_schema()
        for key_path in ca._key_paths():
            files.warn_if_loose(key_path)
        return ca

    # -- the CA's own certificates and keys -------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def policy(self) -> NamePolicy:
        return self.config.policy

    @property
    def root_path(self) -> pathlib.Path:
        return self.directory / ROOT_CERT

    @property
    def intermediate_path(self) -> pathlib.Path | None:
        return self.directory / INTERMEDIATE_CERT if self.config.intermediate else None

    @property
    def crl_path(self) -> pathlib.Path:
        """The issuing CA's CRL (leaves); :attr:`root_crl_path` holds the root's."""
        return self.directory / CRL_FILE

    @property
    def root_crl_path(self) -> pathlib.Path:
        return self.directory / ROOT_CRL_FILE

    @property
    def root_certificate(self) -> x509.Certificate:
        if self._root is None:
            self._root = files.load_certificate_file(self.root_path, "CA root certificate")
        return self._root

    @property
    def intermediate_certificate(self) -> x509.Certificate | None:
        if self.intermediate_path is None:
            return None
        if self._intermediate is None:
            self._intermediate = files.load_certificate_file(self.intermediate_path, "CA intermediate certificate")
        return self._intermediate

    @property
    def issuer_certificate(self) -> x509.Certificate:
        """The certificate that signs leaves and CRLs (the intermediate when there is one)."""
        return self.intermediate_certificate or self.root_certificate

    def root_pem(self) -> bytes:
        return _pem(self.root_certificate)

    def trust_store(self) -> TrustStore:
        """A :class:`tlskit.pki.TrustStore` holding this CA's root: the trust anchor for
        ``tlskit.pki.verify_chain`` (configs take ``cafile=ca.root_path`` likewise)."""
        from tlskit.pki import TrustStore

        return TrustStore([self.root_certificate])

    def intermediates_pem(self) -> bytes:
        inter = self.intermediate_certificate
        return _pem(inter) if inter is not None else b""

    def write_root(self, out: str | os.PathLike[str], *, force: bool = False) -> pathlib.Path:
        """Write the root certificate to ``out`` (never over one of the CA's own files)."""
        path = pathlib.Path(out).expanduser().absolute()
        self.refuse_own_files([path])
        files.atomic_write(path, self.root_pem(), overwrite=force)
        return path

    def _key_paths(self) -> list[pathlib.Path]:
        paths = [self.directory / ROOT_KEY]
        if self.config.intermediate:
            paths.append(self.directory / INTERMEDIATE_KEY)
        return paths

    def _load_key(self, path: pathlib.Path, cert: x509.Certificate) -> PrivateKey:
        key = load_private_key(path, self._passphrase, what="CA key")
        if not same_public_key(key.public_key(), cert.public_key()):
            raise CAError(f"CA key {path} does not match the CA certificate (run: tlskit ca check)")
        return key

    def _issuer_key(self) -> PrivateKey:
        if self._signing_key is None:
            path = self.directory / (INTERMEDIATE_KEY if self.config.intermediate else ROOT_KEY)
            self._signing_key = self._load_key(path, self.issuer_certificate)
        return self._signing_key

    def _root_signing_key(self) -> PrivateKey:
        if not self.config.intermediate:
            return self._issuer_key()
        if self._root_key is None:
            self._root_key = self._load_key(self.directory / ROOT_KEY, self.root_certificate)
        return self._root_key

    def _check_issuer_valid(self, now: datetime.datetime) -> None:
        for cert in filter(None, (self.root_certificate, self.intermediate_certificate)):
            if cert.not_valid_after_utc <= now:
                raise CAError(
                    f"the CA certificate {cert.subject.rfc4514_string()} expired on "
                    f"{cert.not_valid_after_utc:%Y-%m-%d}; create a new CA"
                )
        revoked = self.intermediate_revocation()
        if revoked is not None:
            raise CAError(f"the CA's intermediate was revoked ({revoked}); create a new CA")

    def _validity_limit(self) -> datetime.datetime:
        certs = filter(None, (self.root_certificate, self.intermediate_certificate))
        return min(cert.not_valid_after_utc for cert in certs)

    # -- issuing ------------------------------------------------------------------------

    def issue(
        self,
        name: str,
        *,
        sans: Iterable[str] | None = None,
        profile: str | None = None,
        key_type: str = "ecdsa-p256",
        days: int | None = None,
        duration: str | datetime.timedelta | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        force: bool = False,
    ) -> IssuedCertificate:
        """New key and certificate for NAME: writes NAME.key (0600), NAME.crt, NAME.chain.pem.

        NAME is always one of the certificate's names when it is a host name, IP or email
        address, ``sans`` adds others. ``profile`` defaults to ``email`` (S/MIME) for an
        email NAME, else ``server``. Validity: ``duration`` (``"15m"``, ``"12h"``) or
        ``days`` (default 90), cut at the CA's own expiry with a :class:`CAWarning`.
        """
        if not isinstance(name, str) or not name:
            raise CAError("a certificate needs a name")
        if profile is None:
            profile = "email" if looks_like_email(name) else "server"
        check_profile(profile)
        check_key_type(key_type)
        lifetime = self._lifetime(days, duration)
        stem = file_stem(name)
        # A lone string is one name, not a sequence of one-letter names.
        san_values = [sans] if isinstance(sans, str) else list(sans or ())
        # NAME itself comes first: `issue localhost --san 127.0.0.1` is for both.
        general_names = parse_sans(default_sans(name) + san_values)
        self.policy.check(general_names)
        subject_name(name)
        if profile in ("server", "both") and not general_names:
            raise CAError(
                f"a server certificate needs at least one subject alternative name: {name!r} is not a host"
                " name or IP address, give the server's names with --san"
            )
        # Everything that can refuse (passphrase, expired CA) runs before anything touches the disk.
        signing_key = self._issuer_key()
        self._check_issuer_valid(_now())
        out = self._out_dir(out_dir)
        key_path, cert_path, chain_path = (out / f"{stem}.key", out / f"{stem}.crt", out / f"{stem}.chain.pem")
        self.refuse_own_files((key_path, cert_path, chain_path))
        if not force:
            for path in (key_path, cert_path, chain_path):
                if path.exists():
                    raise CAError(f"{path} already exists (use --force to replace it)")
        key = generate_key(key_type)
        _checkpoint("issue-key-generated")
        cert = self._issue_and_publish(
            name,
            key.public_key(),
            general_names,
            profile=profile,
            key_type=key_type,
            lifetime=lifetime,
            signing_key=signing_key,
            paths=(key_path, cert_path, chain_path),
            key_pem=private_key_pem(key),
            force=force,
        )
        return IssuedCertificate(name, cert.serial_number, cert, key_path, cert_path, chain_path)

    def _lifetime(self, days: int | None, duration: str | datetime.timedelta | None) -> datetime.timedelta:
        if duration is not None:
            if days is not None:
                raise CAError("give the validity as days or as a duration, not both")
            return parse_duration(duration)
        return datetime.timedelta(days=check_days(90 if days is None else days))

    def own_files(self) -> set[pathlib.Path]:
        """The CA's own files (keys, certificates, index, configuration, CRLs), as given and resolved."""
        names = (CONFIG_FILE, ROOT_CERT, ROOT_KEY, INTERMEDIATE_CERT, INTERMEDIATE_KEY, INDEX_FILE, CRL_FILE,
                 ROOT_CRL_FILE)
        own = {self.directory / name for name in names}
        own |= {pathlib.Path(os.path.realpath(path)) for path in own}
        return own

    def refuse_own_files(self, paths: Iterable[pathlib.Path | None]) -> None:
        """Output never replaces the CA's own keys, certificates, index or configuration,
        not even with ``force`` (``issue root --out <CA dir> --force`` would destroy the CA)."""
        own = self.own_files()
        for path in paths:
            if path is not None and (path in own or pathlib.Path(os.path.realpath(path)) in own):
                raise CAError(f"{path} is one of the CA's own files; choose another name or --out directory")

    def _out_dir(self, out_dir: str | os.PathLike[str] | None) -> pathlib.Path:
        out = pathlib.Path(out_dir).expanduser() if out_dir is not None else self.directory / ISSUED_DIR
        out = out.absolute()
        try:
            out.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise CAError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
        if not out.is_dir():
            raise CAError(f"output directory {out} is not a directory")
        return out

    def _leaf_urls(self) -> tuple[str | None, str | None]:
        issuer = "intermediate" if self.config.intermediate else "root"
        return url_for(self.config.crl_url, f"{issuer}.crl"), url_for(self.config.aia_url, f"{issuer}.crt")

    def _issue_and_publish(
        self,
        name: str,
        public_key: PublicKey,
        sans: Sequence[x509.GeneralName],
        *,
        signing_key: PrivateKey,
        common_name: str | None = None,
        **request: Any,
    ) -> x509.Certificate:
        """Sign with the issuing CA, then commit the row and the files together (tlskit.ca.publish)."""
        crl_url, aia_url = self._leaf_urls()
        signer = publish.Signer(
            self.issuer_certificate, signing_key, self.intermediates_pem(), self._validity_limit(), crl_url, aia_url
        )
        return publish.issue_and_publish(
            self._index, signer, name, public_key, sans, common_name=common_name if common_name is not None else name,
            now=_now(), checkpoint=_hook, **request,
        )

    def sign_csr(
        self,
        csr_pem: bytes | str,
        *,
        profile: str = "server",
        days: int | None = None,
        duration: str | datetime.timedelta | None = None,
        out: str | os.PathLike[str] | None = None,
        name: str | None = None,
        sans: Iterable[str] | None = None,
        force: bool = False,
    ) -> IssuedCertificate:
        """Sign a CSR after checking its self-signature; the CA chooses every extension.

        Names: ``sans`` when given (they replace the CSR's), else the CSR's subject
        alternative names, else its common name when that is a host name, IP or email
        address (as step-ca and mkcert do). ``out`` receives the certificate and
        ``<stem>.chain.pem`` next to it the chain.
        """
        request = parse_csr(csr_pem)
        check_profile(profile)
        lifetime = self._lifetime(days, duration)
        names = certificate_names(request, [sans] if isinstance(sans, str) else list(sans or ()))
        self.policy.check(names)
        first_san = san_text(names[0]).partition(":")[2] if names else ""
        record_name = name or request.common_name or first_san
        if not record_name:
            raise CAError("the CSR has neither a common name nor a subject alternative name (use --san)")
        if profile in ("server", "both") and not names:
            raise CAError(
                f"the CSR's common name {record_name!r} is not a host name or IP address and it has no"
                " subject alternative name: give the names with --san"
            )
        cert_path = chain_path = None
        if out is not None:
            cert_path = pathlib.Path(out).expanduser().absolute()
            stem = cert_path.name[: -len(cert_path.suffix)] if cert_path.suffix else cert_path.name
            chain_path = cert_path.with_name(f"{stem}.chain.pem")
            self.refuse_own_files((cert_path, chain_path))
            for path in (cert_path, chain_path):
                if path.is_dir():
                    raise CAError(f"{path} is a directory; --out names the certificate file")
                if not force and path.exists():
                    raise CAError(f"{path} already exists (use --force to replace it)")
        signing_key = self._issuer_key()
        self._check_issuer_valid(_now())
        if cert_path is not None:
            self._out_dir(cert_path.parent)
        cert = self._issue_and_publish(
            record_name,
            request.public_key,
            names,
            profile=profile,
            key_type=key_type_of(request.public_key),
            lifetime=lifetime,
            signing_key=signing_key,
            paths=(None, cert_path, chain_path),
            key_pem=None,
            force=force,
            common_name=request.common_name or record_name[:64],
        )
        return IssuedCertificate(record_name, cert.serial_number, cert, None, cert_path, chain_path)

    # -- renewal ------------------------------------------------------------------------

    def renew(
        self,
        name: str,
        *,
        days: int | None = None,
        duration: str | datetime.timedelta | None = None,
        rekey: bool = False,
    ) -> IssuedCertificate:
        """A new certificate replacing NAME's current one (by name or serial): same names,
        profile and files; the old record is marked superseded.

        The existing key is kept (like ``step ca renew``) unless ``rekey`` or it is gone.
        Validity: as before unless ``days``/``duration`` is given.
        """
        latest = self.resolve(name, purpose="renew")
        # The record comes from the index file: check what renewal relies on before any work.
        check_profile(latest.profile)
        check_key_type(latest.key_type)
        previous = latest.certificate()
        if days is None and duration is None:
            # Same lifetime as before (the notBefore backdating is not part of it).
            lifetime = max(latest.not_after - latest.not_before - CLOCK_SKEW, datetime.timedelta(minutes=1))
            lifetime = parse_duration(datetime.timedelta(seconds=round(lifetime.total_seconds())))
        else:
            lifetime = self._lifetime(days, duration)
        signing_key = self._issuer_key()
        self._check_issuer_valid(_now())
        key = None
        if latest.key_path is not None and latest.key_path.exists() and not rekey:
            public_key = load_private_key(latest.key_path, what="certificate key").public_key()
        elif latest.key_path is not None:
            key = generate_key(latest.key_type)
            public_key = key.public_key()
        else:
            # A CSR-signed certificate: the key is the requester's, reuse its public half.
            public_key = supported_public_key(previous.public_key())
        sans = parse_sans(latest.sans)
        self.policy.check(sans)
        cert = self._issue_and_publish(
            latest.name,
            public_key,
            sans,
            profile=latest.profile,
            key_type=latest.key_type,
            lifetime=lifetime,
            signing_key=signing_key,
            paths=(latest.key_path, latest.cert_path, latest.chain_path),
            key_pem=private_key_pem(key) if key is not None else None,
            force=True,
            common_name=common_name_of(previous.subject) or latest.name[:64],
            supersedes=latest.serial,
        )
        return IssuedCertificate(
            latest.name, cert.serial_number, cert, latest.key_path, latest.cert_path, latest.chain_path
        )

    def due_for_renewal(
        self, fraction: float, *, now: datetime.datetime | None = None
    ) -> builtins.list[IndexRecord]:
        """Current certificates with files (``issue``, ``sign --out``) that have less than
        ``fraction`` of their lifetime left, or have expired."""
        now = now or _now()
        # Only what the CA delivered as files: a certificate signed to stdout or through ACME
        # has nowhere to go, its requester renews it.
        return [
            r for r in self._index.all()
            if r.current and r.cert_path is not None and r.not_after - now < (r.not_after - r.not_before) * fraction
        ]

    def renew_due(
        self, fraction: float, *, now: datetime.datetime | None = None, rekey: bool = False
    ) -> builtins.list[RenewalResult]:
        """Renew every certificate :meth:`due_for_renewal` returns (cron-friendly: one
        failure does not stop the others; each result says what happened)."""
        results = []
        for record in self.due_for_renewal(fraction, now=now):
            try:
                issued = self.renew(record.serial, rekey=rekey)
                results.append(RenewalResult(record, issued, None))
            except CAError as exc:
                results.append(RenewalResult(record, None, str(exc)))
        return results

    # -- the index --------------------------------------------------------------------------

    # ``builtins.list`` below: inside the class body ``list`` is this method
    def list(self) -> builtins.list[IndexRecord]:
        """Every issued certificate, oldest first."""
        return self._index.all()

    def find(self, serial_or_name: str | int) -> builtins.list[IndexRecord]:
        """Records named ``serial_or_name``, else the one with that serial (hex, ``0x``/colons allowed)."""
        if isinstance(serial_or_name, int) and not isinstance(serial_or_name, bool):
            record = self._index.by_serial(serial_hex(serial_or_name))
            return [record] if record else []
        text = str(serial_or_name).strip()
        by_name = self._index.by_name(text)
        if by_name:
            return by_name
        candidate = text.lower().replace(":", "")
        if candidate.startswith("0x"):
            candidate = candidate[2:]
        try:
            serial = int(candidate, 16)
        except ValueError:
            return []
        record = self._index.by_serial(serial_hex(serial))
        return [record] if record else []

    def resolve(self, serial_or_name: str | int, *, purpose: str = "use") -> IndexRecord:
        """The one record a name (or serial) means: a serial is exact; a name means its
        current (unrevoked, not superseded) certificate, and two current ones are refused
        with the candidates listed. ``show`` also accepts a revoked or superseded one."""
        records = self.find(serial_or_name)
        if not records:
            raise CAError(f"no issued certificate has the name or serial {serial_or_name!r}")
        if len(records) == 1 and records[0].name != str(serial_or_name).strip():
            return records[0]  # found by serial: exactly what was asked for
        current = [r for r in records if r.current]
        if len(current) > 1:
            listing = "; ".join(r.describe() for r in current)
            raise CAError(
                f"{len(current)} current certificates are named {serial_or_name!r}: {listing}. Give the serial"
            )
        if current:
            return current[0]
        if purpose == "show":
            return records[-1]
        states = ", ".join(sorted({r.status for r in records}))
        raise CAError(f"no current certificate named {serial_or_name!r} to {purpose} (only {states} ones)")

    def revoke(self, serial_or_name: str | int, reason: str | None = None) -> builtins.list[IndexRecord]:
        """Revoke a certificate by serial, or every unrevoked certificate of a name."""
        reason_flag = parse_reason(reason)
        records = self.find(serial_or_name)
        if not records:
            raise CAError(f"no issued certificate has the name or serial {serial_or_name!r}")
        targets = [r for r in records if not r.revoked]
        if not targets:
            raise CAError(f"{serial_or_name} is already revoked")
        self._index.revoke([r.serial for r in targets], reason_flag.name if reason_flag else None, _now())
        updated = []
        for r in targets:
            record = self._index.by_serial(r.serial)
            if record is None:  # pragma: no cover - the row was just updated in the same index
                raise CAError(f"certificate {r.serial} vanished from the index while being revoked")
            updated.append(record)
        return updated

    def revoke_intermediate(self, reason: str | None = None) -> x509.Certificate:
        """Revoke the CA's own intermediate: the root's CRL lists it from the next
        :meth:`crl`, and the CA issues nothing more (create a new CA)."""
        inter = self.intermediate_certificate
        if inter is None:
            raise CAError("this CA has no intermediate (it was created with --no-intermediate)")
        if self.intermediate_revocation() is not None:
            raise CAError("the intermediate is already revoked")
        flag = parse_reason(reason)
        record = IntermediateRevocation(inter.serial_number, _now().replace(microsecond=0), flag.name if flag else None)
        self._index.set_meta(_INTERMEDIATE_REVOKED, record.to_json())
        return inter

    def _intermediate_revoked(self) -> IntermediateRevocation | None:
        raw = self._index.get_meta(_INTERMEDIATE_REVOKED)
        return IntermediateRevocation.from_json(raw) if raw is not None else None

    def intermediate_revocation(self) -> str | None:
        """None, or when and why the intermediate was revoked."""
        revoked = self._intermediate_revoked()
        return revoked.describe() if revoked is not None else None

    def crl(self, days: int = 7, *, out: str | os.PathLike[str] | None = None, force: bool = False) -> bytes:
        """The CRL of every issuing level, PEM, one after another: the issuing CA's (leaves)
        first, then the root's (covering the intermediate) when there is an intermediate.

        Saved as crl.pem and root.crl.pem; ``out`` receives them all, so one file serves
        ``openssl verify -crl_check_all -CRLfile``. ``out`` may replace an older CRL file;
        any other existing file there is refused unless ``force``, like every CA output.
        """
        check_days(days)
        out_path = pathlib.Path(out).expanduser().absolute() if out is not None else None
        if out_path is not None and out_path not in (self.crl_path, self.root_crl_path):
            self.refuse_own_files([out_path])
        if out_path is not None and not out_path.parent.is_dir():
            raise CAError(f"cannot write {out_path}: directory {out_path.parent} does not exist")
        if out_path is not None and not force:
            files.refuse_unless_crl(out_path)
        signing_key = self._issuer_key()
        root_key = self._root_signing_key() if self.config.intermediate else None
        number = self._index.next_crl_number()
        now = _now()
        leaves = build_crl(self.issuer_certificate, signing_key, self._index.revoked(), number=number, days=days,
                           now=now)
        files.atomic_write(self.crl_path, leaves, overwrite=True)
        pem = leaves
        if root_key is not None:
            revoked = self._intermediate_revoked()
            root = build_crl(self.root_certificate, root_key, [], number=number, days=days, now=now,
                             extra=[revoked.entry()] if revoked else [])
            files.atomic_write(self.root_crl_path, root, overwrite=True)
            pem += root
        if out_path is not None:
            files.atomic_write(out_path, pem, overwrite=True)
        return pem

    # -- checking ---------------------------------------------------------------------------

    def verify(
        self,
        cert: str | os.PathLike[str] | bytes,
        host: str | None = None,
        crl: str | os.PathLike[str] | bytes | None = None,
        *,
        usage: str | None = None,
        at: datetime.datetime | None = None,
    ) -> VerifiedPath:
        """Validate a certificate (file or PEM, optionally followed by its chain) against this CA
        with :func:`tlskit.pki.verify_chain`, then against the CA's own revocations (the
        index, no CRL needed); ``crl`` adds CRLs. Returns the ``VerifiedPath`` or raises
        ``CertificateError``."""
        return verify_with_ca(
            self.root_certificate, self.intermediate_certificate, cert, host=host, crl=crl, usage=usage, at=at,
            revoked=self._index.revoked(), intermediate_revoked=self.intermediate_revocation(),
        )

    def export_p12(
        self,
        name: str,
        path: str | os.PathLike[str],
        password: bytes | str | None,
        *,
        force: bool = False,
        legacy: bool = False,
    ) -> pathlib.Path:
        """Write NAME's key, certificate and chain as a PKCS#12 file: encrypted with
        ``password`` (``legacy``: 3DES and a SHA-1 MAC for old Windows), or unencrypted
        when ``password`` is None."""
        record = self.resolve(name, purpose="export")
        if record.key_path is None:
            raise CAError(f"{name!r} was signed from a CSR: its private key is not held by this CA")
        key = load_private_key(record.key_path, what="certificate key")
        cert = record.certificate()
        chain = [c for c in (self.intermediate_certificate,) if c is not None]
        data = p12_bytes(record.name, key, cert, chain, password, legacy=legacy)
        target = pathlib.Path(path).expanduser().absolute()
        self.refuse_own_files([target])
        files.atomic_write(target, data, private=True, overwrite=force)
        return target

    def publication(self) -> Publication:
        """The CRLs and CA certificates ``tlskit ca serve-crl`` publishes (see :mod:`tlskit.ca.crlserver`)."""
        return Publication(
            self.root_path, self.intermediate_path, self.crl_path, self.root_crl_path if self.config.intermediate else None
        )

    def check(self) -> builtins.list[str]:
        """Consistency problems of the CA directory (empty when all is well): damaged CA
        files, index damage, certificates not ours, unrecorded or mismatched published
        files, and current certificates whose files are missing."""
        problems = _check.check_ca_files(
            self.directory, intermediate=self.config.intermediate, passphrase=self._passphrase
        )
        integrity = [f"index: {line}" for line in self._index.integrity_problems()]
        if integrity:
            return problems + integrity
        try:
            records = self.list()
        except CAError as exc:  # a damaged row: report it rather than stop with it
            return problems + [f"index: {exc}"]
        try:
            issuer: x509.Certificate | None = self.issuer_certificate
        except CAError:
            issuer = None  # reported above as a damaged CA file
        return problems + _check.check_records(records, issuer)

    def leftovers(self) -> builtins.list[pathlib.Path]:
        """Temporaries of interrupted writes and half-built CAs of interrupted inits."""
        try:
            records = self.list()
        except CAError:  # a damaged index: `check` reports it; still look where we can
            records = []
        return _check.find_leftovers(_check.output_directories(self.directory, records), self.directory.parent)

    def remove_leftovers(self) -> builtins.list[pathlib.Path]:
        """Delete :meth:`leftovers` whose writer process is gone."""
        return _check.remove_leftovers(self.leftovers())
