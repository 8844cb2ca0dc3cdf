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


def write_config(directory: pathlib.Path, suite: str, group: str = "x25519") -> pathlib.Path:
    """An OpenSSL configuration file that pins ``suite`` and ``group``."""
    path = pathlib.Path(directory) / f"openssl-{suite}.cnf"
    path.write_text(_TEMPLATE.format(suite=suite, group=_OPENSSL_GROUP_NAMES.get(group, group)))
    return path


def child_environment(config: pathlib.Path) -> dict[str, str]:
    """The environment for a worker: ours, plus the pin."""
    env = dict(os.environ)
    env["OPENSSL_CONF"] = str(config)
    return env
