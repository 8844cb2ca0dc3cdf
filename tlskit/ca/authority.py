"""The certificate authority on disk: init, load, issue, sign, revoke, renew.

Directory layout (one directory per CA)::

    ca.json              configuration (name, key type, intermediate?, encrypted?, name constraints)
    root.crt root.key    the trust anchor (the key signs only the intermediate)
    intermediate.crt/.key  the day-to-day issuer (absent with intermediate=False)
    index.sqlite         every issued certificate; the commit point of every change
    crl.pem              the last CRL written by ``crl()``
    issued/              default output directory of ``issue``

Crash safety: ``init`` builds the whole CA in a hidden sibling directory and renames
it into place, so a CA directory is either complete or absent. ``issue`` signs, then
commits the index row, then publishes the files atomically: a kill before the commit
leaves nothing but hidden temporaries, a kill after it leaves a recorded certificate
whose files may be missing -- never a published certificate the index does not know.
"""

from __future__ import annotations

import builtins
import datetime
import json
import os
import pathlib
import shutil
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca import files
from tlskit.ca.errors import CAError
from tlskit.ca.index import DuplicateSerial, Index, IndexRecord, NewRecord, serial_hex
from tlskit.ca.keys import (
    PrivateKey,
    PublicKey,
    check_key_type,
    generate_key,
    key_type_of,
    load_private_key,
    private_key_pem,
    same_public_key,
    signature_hash,
    supported_public_key,
)
from tlskit.ca.profiles import (
    ca_builder,
    check_days,
    check_permitted,
    check_profile,
    common_name_of,
    file_stem,
    leaf_builder,
    default_sans,
    parse_sans,
    san_text,
    subject_name,
    validity,
)

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.pki import TrustStore, VerifiedPath

CONFIG_FILE = "ca.json"
ROOT_CERT = "root.crt"
ROOT_KEY = "root.key"
INTERMEDIATE_CERT = "intermediate.crt"
INTERMEDIATE_KEY = "intermediate.key"
INDEX_FILE = "index.sqlite"
CRL_FILE = "crl.pem"
ISSUED_DIR = "issued"
ENV_DIR = "TLSKIT_CA_DIR"
_SERIAL_ATTEMPTS = 8


def _checkpoint(stage: str) -> None:
    """A no-op marking crash-relevant moments; crash-safety tests replace it in a child process."""


def default_directory() -> pathlib.Path:
    """``$TLSKIT_CA_DIR``, else the per-user data directory's ``ca`` folder."""
    env = os.environ.get(ENV_DIR)
    if env:
        return pathlib.Path(env).expanduser()
    import platformdirs

    return pathlib.Path(platformdirs.user_data_dir("tlskit")) / "ca"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _passphrase(value: bytes | str | None) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not value:
        raise CAError("the passphrase is empty")
    return bytes(value)


def _intermediate_name(root_name: str) -> str:
    if root_name.endswith("Root CA"):
        return (root_name[: -len("Root CA")] + "Intermediate CA")[:64]
    return (root_name + " Intermediate")[:64]


def load_certificate_file(path: pathlib.Path, what: str) -> x509.Certificate:
    data = files.read_file(path, what)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CAError(f"{what} {path} is not a PEM certificate") from None


def _refuse_unless_crl(path: pathlib.Path) -> None:
    """An existing ``path`` may be replaced only if it holds a CRL (an older one of ours)."""
    if not os.path.lexists(path):
        return
    if path.is_dir():
        raise CAError(f"{path} is a directory")
    if not path.is_symlink():
        try:
            x509.load_pem_x509_crl(files.read_file(path, "CRL"))
            return
        except ValueError:
            pass
    raise CAError(f"{path} already exists and is not a CRL (use --force to replace it)")


@dataclass(frozen=True)
class IssuedCertificate:
    """What ``issue``/``sign_csr``/``renew`` produced. ``chain_path`` holds leaf + intermediates."""

    name: str
    serial: int
    certificate: x509.Certificate
    key_path: pathlib.Path | None
    cert_path: pathlib.Path | None
    chain_path: pathlib.Path | None

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.serial)


@dataclass(frozen=True)
class CAConfig:
    name: str
    key_type: str
    intermediate: bool
    encrypted: bool
    permit_dns: tuple[str, ...]
    created: str

    def to_json(self) -> bytes:
        data = {
            "format": 1,
            "name": self.name,
            "key_type": self.key_type,
            "intermediate": self.intermediate,
            "encrypted": self.encrypted,
            "permit_dns": list(self.permit_dns),
            "created": self.created,
        }
        return (json.dumps(data, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, path: pathlib.Path) -> "CAConfig":
        try:
            raw = json.loads(data)
            # bool("false") is True: a hand-edited flag must be a JSON boolean
            if not isinstance(raw["intermediate"], bool) or not isinstance(raw["encrypted"], bool):
                raise TypeError("intermediate and encrypted must be true or false")
            return cls(
                name=str(raw["name"]),
                key_type=check_key_type(str(raw["key_type"])),
                intermediate=raw["intermediate"],
                encrypted=raw["encrypted"],
                permit_dns=tuple(str(n) for n in raw.get("permit_dns") or ()),
                created=str(raw.get("created", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CAError(f"CA configuration {path} is damaged") from None


class CertificateAuthority:
    """A mini-CA living in one directory. Create with :meth:`init`, open with :meth:`load`."""

    def __init__(self, directory: pathlib.Path, config: CAConfig, passphrase: bytes | None) -> None:
        self.directory = directory
        self.config = config
        self._passphrase = passphrase
        self._index = Index(directory / INDEX_FILE)
        self._signing_key: PrivateKey | None = None
        self._root: x509.Certificate | None = None
        self._intermediate: x509.Certificate | None = None

    # -- creation and loading ---------------------------------------------------------

    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str] | None = None,
        *,
        name: str = "tlskit Root CA",
        key_type: str = "ecdsa-p256",
        intermediate: bool = True,
        days: int = 3650,
        passphrase: bytes | str | None = None,
        permit_dns: Sequence[str] | None = None,
    ) -> "CertificateAuthority":
        """Create a new CA (root and, by default, an intermediate). Refuses an existing directory's content."""
        target = pathlib.Path(directory).expanduser() if directory is not None else default_directory()
        target = target.absolute()
        check_key_type(key_type)
        check_days(days)
        secret = _passphrase(passphrase)
        permit = tuple(permit_dns or ())
        root_subject = subject_name(name)
        if permit:
            from tlskit.ca.profiles import name_constraints

            name_constraints(permit)  # validate before any work
        if target.exists():
            if (target / CONFIG_FILE).exists():
                raise CAError(f"a CA already exists in {target}; refusing to overwrite it")
            if not target.is_dir() or any(target.iterdir()):
                raise CAError(f"{target} exists and is not an empty directory; refusing to create a CA there")
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            staging = pathlib.Path(tempfile.mkdtemp(prefix=".tlskit-ca-init-", dir=target.parent))
        except OSError as exc:
            raise CAError(f"cannot create {target}: {exc.strerror or exc}") from None
        try:
            config = cls._build(staging, root_subject, key_type, intermediate, days, secret, permit)
            _checkpoint("init-before-rename")
            try:
                # rename() replaces an empty directory atomically and fails on a non-empty one.
                os.rename(staging, target)
            except OSError as exc:
                raise CAError(f"cannot create the CA in {target}: {exc.strerror or exc}") from None
            files.fsync_directory(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls(target, config, secret)

    @staticmethod
    def _build(
        staging: pathlib.Path,
        root_subject: x509.Name,
        key_type: str,
        intermediate: bool,
        days: int,
        secret: bytes | None,
        permit: tuple[str, ...],
    ) -> CAConfig:
        now = _now()
        root_key = generate_key(key_type)
        not_before, not_after = validity(days, now=now)
        root = ca_builder(
            root_subject,
            root_key.public_key(),
            issuer=root_subject,
            issuer_public_key=root_key.public_key(),
            serial=x509.random_serial_number(),
            not_before=not_before,
            not_after=not_after,
            path_length=1 if intermediate else 0,
            permit_dns=permit,
        ).sign(root_key, signature_hash(root_key))
        files.atomic_write(staging / ROOT_KEY, private_key_pem(root_key, secret), private=True)
        files.atomic_write(staging / ROOT_CERT, _pem(root))
        if intermediate:
            inter_key = generate_key(key_type)
            inter_name = _intermediate_name(common_name_of(root_subject) or "tlskit")
            inter = ca_builder(
                subject_name(inter_name),
                inter_key.public_key(),
                issuer=root.subject,
                issuer_public_key=root_key.public_key(),
                serial=x509.random_serial_number(),
                not_before=not_before,
                not_after=not_after,
                path_length=0,
                permit_dns=permit,
            ).sign(root_key, signature_hash(root_key))
            files.atomic_write(staging / INTERMEDIATE_KEY, private_key_pem(inter_key, secret), private=True)
            files.atomic_write(staging / INTERMEDIATE_CERT, _pem(inter))
        Index(staging / INDEX_FILE).create()
        (staging / ISSUED_DIR).mkdir(mode=0o700)
        config = CAConfig(
            name=common_name_of(root_subject),
            key_type=key_type,
            intermediate=intermediate,
            encrypted=secret is not None,
            permit_dns=permit,
            created=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        files.atomic_write(staging / CONFIG_FILE, config.to_json())
        return config

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str] | None = None, passphrase: bytes | str | None = None
    ) -> "CertificateAuthority":
        """Open an existing CA. Keys are read (and the passphrase checked) when first needed."""
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
    def root_path(self) -> pathlib.Path:
        return self.directory / ROOT_CERT

    @property
    def intermediate_path(self) -> pathlib.Path | None:
        return self.directory / INTERMEDIATE_CERT if self.config.intermediate else None

    @property
    def crl_path(self) -> pathlib.Path:
        return self.directory / CRL_FILE

    @property
    def root_certificate(self) -> x509.Certificate:
        if self._root is None:
            self._root = load_certificate_file(self.root_path, "CA root certificate")
        return self._root

    @property
    def intermediate_certificate(self) -> x509.Certificate | None:
        if self.intermediate_path is None:
            return None
        if self._intermediate is None:
            self._intermediate = load_certificate_file(self.intermediate_path, "CA intermediate certificate")
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

    def _key_paths(self) -> list[pathlib.Path]:
        paths = [self.directory / ROOT_KEY]
        if self.config.intermediate:
            paths.append(self.directory / INTERMEDIATE_KEY)
        return paths

    def _issuer_key(self) -> PrivateKey:
        if self._signing_key is None:
            path = self.directory / (INTERMEDIATE_KEY if self.config.intermediate else ROOT_KEY)
            key = load_private_key(path, self._passphrase, what="CA key")
            if not same_public_key(key.public_key(), self.issuer_certificate.public_key()):
                raise CAError(f"CA key {path} does not match the CA certificate")
            self._signing_key = key
        return self._signing_key

    def _check_issuer_valid(self, now: datetime.datetime) -> None:
        for cert in filter(None, (self.root_certificate, self.intermediate_certificate)):
            if cert.not_valid_after_utc <= now:
                raise CAError(
                    f"the CA certificate {cert.subject.rfc4514_string()} expired on "
                    f"{cert.not_valid_after_utc:%Y-%m-%d}; create a new CA"
                )

    def _validity_limit(self) -> datetime.datetime:
        certs = filter(None, (self.root_certificate, self.intermediate_certificate))
        return min(cert.not_valid_after_utc for cert in certs)

    # -- issuing ------------------------------------------------------------------------

    def issue(
        self,
        name: str,
        *,
        sans: Iterable[str] | None = None,
        profile: str = "server",
        key_type: str = "ecdsa-p256",
        days: int = 90,
        out_dir: str | os.PathLike[str] | None = None,
        force: bool = False,
    ) -> IssuedCertificate:
        """New key and certificate for NAME: writes NAME.key (0600), NAME.crt, NAME.chain.pem."""
        if not isinstance(name, str) or not name:
            raise CAError("a certificate needs a name")
        check_profile(profile)
        check_key_type(key_type)
        check_days(days)
        stem = file_stem(name)
        # A lone string is one name, not a sequence of one-letter names.
        san_values = [sans] if isinstance(sans, str) else list(sans or ())
        if not san_values:
            san_values = default_sans(name)
        general_names = parse_sans(san_values)
        check_permitted(general_names, self.config.permit_dns)
        subject_name(name)
        if profile in ("server", "both") and not general_names:
            raise CAError("a server certificate needs at least one subject alternative name (--san)")
        # Everything that can refuse (passphrase, expired CA) runs before anything touches the disk.
        signing_key = self._issuer_key()
        self._check_issuer_valid(_now())
        out = self._out_dir(out_dir)
        key_path, cert_path, chain_path = (out / f"{stem}.key", out / f"{stem}.crt", out / f"{stem}.chain.pem")
        self._refuse_own_files((key_path, cert_path, chain_path))
        if not force:
            for path in (key_path, cert_path, chain_path):
                if path.exists():
                    raise CAError(f"{path} already exists (use --force to replace it)")
        key = generate_key(key_type)
        _checkpoint("issue-key-generated")
        cert = self._sign_and_record(
            name,
            key.public_key(),
            general_names,
            profile=profile,
            key_type=key_type,
            days=days,
            signing_key=signing_key,
            paths=(key_path, cert_path, chain_path),
            force=force,
        )
        _checkpoint("issue-committed")
        files.atomic_write(key_path, private_key_pem(key), private=True, overwrite=force)
        _checkpoint("issue-key-written")
        self._write_certificate(cert, cert_path, chain_path, overwrite=force)
        _checkpoint("issue-done")
        return IssuedCertificate(name, cert.serial_number, cert, key_path, cert_path, chain_path)

    def _own_files(self) -> set[pathlib.Path]:
        names = (CONFIG_FILE, ROOT_CERT, ROOT_KEY, INTERMEDIATE_CERT, INTERMEDIATE_KEY, INDEX_FILE, CRL_FILE)
        own = {self.directory / name for name in names}
        own |= {pathlib.Path(os.path.realpath(path)) for path in own}
        return own

    def _refuse_own_files(self, paths: Iterable[pathlib.Path | None]) -> None:
        """Output never replaces the CA's own keys, certificates, index or configuration,
        not even with ``force`` (``issue root --out <CA dir> --force`` would destroy the CA)."""
        own = self._own_files()
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

    def _write_certificate(
        self,
        cert: x509.Certificate,
        cert_path: pathlib.Path | None,
        chain_path: pathlib.Path | None,
        *,
        overwrite: bool,
    ) -> None:
        if cert_path is not None:
            files.atomic_write(cert_path, _pem(cert), overwrite=overwrite)
        if chain_path is not None:
            files.atomic_write(chain_path, _pem(cert) + self.intermediates_pem(), overwrite=overwrite)

    def _sign_and_record(
        self,
        name: str,
        public_key: PublicKey,
        sans: Sequence[x509.GeneralName],
        *,
        profile: str,
        key_type: str,
        days: int,
        signing_key: PrivateKey,
        paths: tuple[pathlib.Path | None, pathlib.Path | None, pathlib.Path | None],
        force: bool,
        common_name: str | None = None,
    ) -> x509.Certificate:
        now = _now()
        self._check_issuer_valid(now)
        not_before, not_after = validity(days, now=now, limit=self._validity_limit())
        issuer = self.issuer_certificate
        cn = common_name if common_name is not None else name
        for _ in range(_SERIAL_ATTEMPTS):
            serial = x509.random_serial_number()  # 159 random bits
            cert = leaf_builder(
                cn, public_key, sans, profile=profile, issuer_cert=issuer,
                serial=serial, not_before=not_before, not_after=not_after,
            ).sign(signing_key, signature_hash(signing_key))
            record = NewRecord(
                serial=serial,
                name=name,
                subject=cert.subject.rfc4514_string(),
                sans=tuple(san_text(s) for s in sans),
                not_before=not_before,
                not_after=not_after,
                profile=profile,
                key_type=key_type,
                cert_pem=_pem(cert),
                key_path=paths[0],
                cert_path=paths[1],
                chain_path=paths[2],
            )
            try:
                with self._index.transaction() as conn:
                    if not force:
                        taken = self._index.paths_in_use(conn, [p for p in paths if p is not None])
                        if taken is not None:
                            raise CAError(
                                f"{taken} already belongs to an issued certificate (use --force to replace it)"
                            )
                    self._index.insert(conn, record)
                    _checkpoint("issue-before-commit")
            except DuplicateSerial:
                continue
            return cert
        raise CAError("could not find an unused serial number")  # pragma: no cover - 2**-159 odds

    def sign_csr(
        self,
        csr_pem: bytes | str,
        *,
        profile: str = "server",
        days: int = 90,
        out: str | os.PathLike[str] | None = None,
        name: str | None = None,
        force: bool = False,
    ) -> IssuedCertificate:
        """Sign a CSR after checking its self-signature; the CA chooses every extension.

        ``out`` receives the certificate and ``<stem>.chain.pem`` next to it the chain.
        """
        from tlskit.ca.csr import parse_csr

        request = parse_csr(csr_pem)
        check_profile(profile)
        check_days(days)
        check_permitted(request.sans, self.config.permit_dns)
        first_san = san_text(request.sans[0]).partition(":")[2] if request.sans else ""
        record_name = name or request.common_name or first_san
        if not record_name:
            raise CAError("the CSR has neither a common name nor a subject alternative name")
        cert_path = chain_path = None
        if out is not None:
            cert_path = pathlib.Path(out).expanduser().absolute()
            stem = cert_path.name[: -len(cert_path.suffix)] if cert_path.suffix else cert_path.name
            chain_path = cert_path.with_name(f"{stem}.chain.pem")
            self._refuse_own_files((cert_path, chain_path))
            for path in (cert_path, chain_path):
                if path.is_dir():
                    raise CAError(f"{path} is a directory; --out names the certificate file")
                if not force and path.exists():
                    raise CAError(f"{path} already exists (use --force to replace it)")
        signing_key = self._issuer_key()
        self._check_issuer_valid(_now())
        if cert_path is not None:
            # The directory must exist before the certificate is signed and recorded:
            # failing to write after the commit left an issued certificate nobody received.
            self._out_dir(cert_path.parent)
        cert = self._sign_and_record(
            record_name,
            request.public_key,
            request.sans,
            profile=profile,
            key_type=key_type_of(request.public_key),
            days=days,
            signing_key=signing_key,
            paths=(None, cert_path, chain_path),
            force=force,
            common_name=request.common_name or record_name[:64],
        )
        self._write_certificate(cert, cert_path, chain_path, overwrite=force)
        return IssuedCertificate(record_name, cert.serial_number, cert, None, cert_path, chain_path)

    def renew(self, name: str, *, days: int | None = None, rekey: bool = False) -> IssuedCertificate:
        """A new certificate for NAME's latest record: same names, profile and files.

        The existing key is kept (like ``step ca renew``) unless ``rekey`` or it is gone;
        the old certificate stays valid until it expires or is revoked.
        """
        records = [r for r in self._index.by_name(name) if not r.revoked]
        if not records:
            raise CAError(f"no unrevoked certificate named {name!r} to renew")
        latest = records[-1]
        # The record comes from the index file: check what renewal relies on before any work.
        check_profile(latest.profile)
        check_key_type(latest.key_type)
        previous = latest.certificate()
        if days is None:
            days = max(1, round((latest.not_after - latest.not_before).total_seconds() / 86400))
        check_days(days)
        signing_key = self._issuer_key()
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
        cert = self._sign_and_record(
            name,
            public_key,
            sans,
            profile=latest.profile,
            key_type=latest.key_type,
            days=days,
            signing_key=signing_key,
            paths=(latest.key_path, latest.cert_path, latest.chain_path),
            force=True,
            common_name=common_name_of(previous.subject) or name[:64],
        )
        if key is not None and latest.key_path is not None:
            files.atomic_write(latest.key_path, private_key_pem(key), private=True, overwrite=True)
        self._write_certificate(cert, latest.cert_path, latest.chain_path, overwrite=True)
        return IssuedCertificate(name, cert.serial_number, cert, latest.key_path, latest.cert_path, latest.chain_path)

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

    def revoke(self, serial_or_name: str | int, reason: str | None = None) -> builtins.list[IndexRecord]:
        """Revoke a certificate by serial, or every unrevoked certificate of a name."""
        from tlskit.ca.crl import parse_reason

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

    def crl(self, days: int = 7, *, out: str | os.PathLike[str] | None = None, force: bool = False) -> bytes:
        """A CRL of every revoked certificate, signed by the issuing CA; also saved as crl.pem.

        ``out`` may replace an older CRL (republishing is the point); any other existing
        file there is refused unless ``force``, like every other CA output.
        """
        from tlskit.ca.crl import build_crl

        check_days(days)
        out_path = pathlib.Path(out).expanduser().absolute() if out is not None else None
        if out_path is not None and out_path != self.crl_path:
            self._refuse_own_files([out_path])
        if out_path is not None and not out_path.parent.is_dir():
            raise CAError(f"cannot write {out_path}: directory {out_path.parent} does not exist")
        if out_path is not None and not force:
            _refuse_unless_crl(out_path)
        signing_key = self._issuer_key()
        number = self._index.next_crl_number()
        pem = build_crl(
            self.issuer_certificate, signing_key, self._index.revoked(), number=number, days=days, now=_now()
        )
        files.atomic_write(self.crl_path, pem, overwrite=True)
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
        with :func:`tlskit.pki.verify_chain`; returns its ``VerifiedPath`` or raises ``CertificateError``."""
        from tlskit.ca.verify import verify_with_ca

        return verify_with_ca(self, cert, host=host, crl=crl, usage=usage, at=at)

    def export_p12(
        self, name: str, path: str | os.PathLike[str], password: bytes | str, *, force: bool = False
    ) -> pathlib.Path:
        """Write NAME's key, certificate and chain as a password-protected PKCS#12 file."""
        from tlskit.ca.export import export_p12

        return export_p12(self, name, pathlib.Path(path).expanduser(), password, force=force)

    def check(self) -> builtins.list[str]:
        """Consistency problems of the CA directory (empty when all is well)."""
        from tlskit.ca.check import check_consistency

        return check_consistency(self)
