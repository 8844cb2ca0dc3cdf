"""Building a new CA directory's content (root, intermediate, index, ca.json) in a staging directory.

``CertificateAuthority.init`` builds everything here, in a hidden sibling of the target,
and renames the whole directory into place, so a CA directory is complete or absent.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import shutil
import tempfile
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca import files
from tlskit.ca.config import CAConfig
from tlskit.ca.errors import CAError
from tlskit.ca.index import Index
from tlskit.ca.keys import generate_key, private_key_pem, signature_hash
from tlskit.ca.policy import NamePolicy
from tlskit.ca.profiles import ca_builder, common_name_of, subject_name, validity

CONFIG_FILE = "ca.json"
ROOT_CERT = "root.crt"
ROOT_KEY = "root.key"
INTERMEDIATE_CERT = "intermediate.crt"
INTERMEDIATE_KEY = "intermediate.key"
INDEX_FILE = "index.sqlite"
CRL_FILE = "crl.pem"
ROOT_CRL_FILE = "root.crl.pem"
ISSUED_DIR = "issued"
#: Prefix of init's staging directory; the writer's pid follows so ``check --clean``
#: can tell a live init's directory from a killed one's.
STAGING_PREFIX = ".tlskit-ca-init-"


def intermediate_name(root_name: str) -> str:
    if root_name.endswith("Root CA"):
        return (root_name[: -len("Root CA")] + "Intermediate CA")[:64]
    return (root_name + " Intermediate")[:64]


def url_for(base: str | None, filename: str) -> str | None:
    """Where a CA publishes ``filename`` under the base URL given to ``init``."""
    return f"{base}/{filename}" if base else None


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def build_ca(
    staging: pathlib.Path,
    root_subject: x509.Name,
    *,
    key_type: str,
    intermediate: bool,
    days: int,
    secret: bytes | None,
    permit_dns: tuple[str, ...],
    policy: NamePolicy,
    crl_url: str | None,
    aia_url: str | None,
    now: datetime.datetime,
) -> CAConfig:
    """Write the whole CA into ``staging``; returns its configuration."""
    root_key = generate_key(key_type)
    not_before, not_after = validity(days, now=now)
    constraints = policy.extension()
    root = ca_builder(
        root_subject,
        root_key.public_key(),
        issuer=root_subject,
        issuer_public_key=root_key.public_key(),
        serial=x509.random_serial_number(),
        not_before=not_before,
        not_after=not_after,
        path_length=1 if intermediate else 0,
        permit_dns=None,
        constraints=constraints,
        # A self-signed root's own status is on its CRL too: `openssl verify -crl_check_all
        # -crl_download` looks for a CRL at every depth, the anchor included.
        crl_url=url_for(crl_url, "root.crl"),
    ).sign(root_key, signature_hash(root_key))
    files.atomic_write(staging / ROOT_KEY, private_key_pem(root_key, secret), private=True)
    files.atomic_write(staging / ROOT_CERT, pem(root))
    if intermediate:
        inter_key = generate_key(key_type)
        inter_name = intermediate_name(common_name_of(root_subject) or "tlskit")
        inter = ca_builder(
            subject_name(inter_name),
            inter_key.public_key(),
            issuer=root.subject,
            issuer_public_key=root_key.public_key(),
            serial=x509.random_serial_number(),
            not_before=not_before,
            not_after=not_after,
            path_length=0,
            permit_dns=None,
            constraints=constraints,
            # The intermediate's status is on the root's CRL, its issuer is the root.
            crl_url=url_for(crl_url, "root.crl"),
            aia_url=url_for(aia_url, "root.crt"),
        ).sign(root_key, signature_hash(root_key))
        files.atomic_write(staging / INTERMEDIATE_KEY, private_key_pem(inter_key, secret), private=True)
        files.atomic_write(staging / INTERMEDIATE_CERT, pem(inter))
    Index(staging / INDEX_FILE).create()
    (staging / ISSUED_DIR).mkdir(mode=0o700)
    config = CAConfig(
        name=common_name_of(root_subject),
        key_type=key_type,
        intermediate=intermediate,
        encrypted=secret is not None,
        permit_dns=permit_dns,
        created=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        policy=policy,
        crl_url=crl_url,
        aia_url=aia_url,
    )
    files.atomic_write(staging / CONFIG_FILE, config.to_json())
    return config


def create_directory(
    target: pathlib.Path, build: Callable[[pathlib.Path], CAConfig], *, checkpoint: Callable[[str], None]
) -> CAConfig:
    """Run ``build`` in a hidden sibling of ``target`` and rename it into place: the CA
    directory is complete or absent, whatever happens (kill, full disk, error)."""
    if target.exists():
        if (target / CONFIG_FILE).exists():
            raise CAError(f"a CA already exists in {target}; refusing to overwrite it")
        if not target.is_dir() or any(target.iterdir()):
            raise CAError(f"{target} exists and is not an empty directory; refusing to create a CA there")
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = pathlib.Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=target.parent))
    except OSError as exc:
        raise CAError(f"cannot create {target}: {exc.strerror or exc}") from None
    try:
        config = build(staging)
        checkpoint("init-before-rename")
        try:
            # rename() replaces an empty directory atomically and fails on a non-empty one.
            os.rename(staging, target)
        except OSError as exc:
            raise CAError(f"cannot create the CA in {target}: {exc.strerror or exc}") from None
        files.fsync_directory(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return config
