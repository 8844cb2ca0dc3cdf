"""Pinning the stdlib ``ssl`` module to one TLS 1.3 suite and group.

Python's ``ssl`` has no API for TLS 1.3 cipher suites (``set_ciphers`` only
touches TLS 1.2) or for key-exchange groups, but OpenSSL applies the
``system_default`` section of its configuration to every new SSL_CTX. OpenSSL
reads that file once, when it initialises, so the pin is set through the
``OPENSSL_CONF`` environment variable of a *child* process. What the child
then negotiates is checked, not assumed (:func:`tlskit.bench.worker._check_negotiated`).
"""

from __future__ import annotations

import os
import pathlib

#: OpenSSL's spelling of the groups the stdlib side is pinned to
_OPENSSL_GROUP_NAMES = {"x25519": "X25519", "secp256r1": "P-256", "x448": "X448"}

_TEMPLATE = """\
# Written by tlskit.bench: pins the stdlib ssl module of one worker process.
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
MinProtocol = TLSv1.3
Ciphersuites = {suite}
Groups = {group}
"""


_TEMPLATE_TLS12 = """\
# Written by tlskit.bench: pins the stdlib ssl module of one worker process to TLS 1.2.
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
MinProtocol = TLSv1.2
MaxProtocol = TLSv1.2
CipherString = {suite}
# TLS 1.2 OpenSSL also wants the ECDSA certificate's curve among the groups (RFC 4492 5.1)
Groups = {group}:P-256
"""

#: OpenSSL's names of the TLS 1.2 suites the benchmark measures
OPENSSL_TLS12_NAMES = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256"}


def write_config(directory: pathlib.Path, suite: str, group: str = "x25519") -> pathlib.Path:
    """An OpenSSL configuration file that pins ``suite`` (TLS 1.3, or TLS 1.2 by IANA name) and ``group``."""
    path = pathlib.Path(directory) / f"openssl-{suite}.cnf"
    if suite in OPENSSL_TLS12_NAMES:
        text = _TEMPLATE_TLS12.format(suite=OPENSSL_TLS12_NAMES[suite], group=_OPENSSL_GROUP_NAMES.get(group, group))
    else:
        text = _TEMPLATE.format(suite=suite, group=_OPENSSL_GROUP_NAMES.get(group, group))
    path.write_text(text)
    return path


def child_environment(config: pathlib.Path) -> dict[str, str]:
    """The environment for a worker: ours, plus the pin."""
    env = dict(os.environ)
    env["OPENSSL_CONF"] = str(config)
    return env
