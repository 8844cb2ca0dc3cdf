"""An ACME server (RFC 8555, with RFC 8737 tls-alpn-01 and RFC 8738 IP identifiers) for the mini-CA.

    from tlskit.ca import CertificateAuthority
    from tlskit.ca.acme import AcmeServer

    ca = CertificateAuthority.load("/srv/ca")
    with AcmeServer(ca, "127.0.0.1", 14000, http01_port=5002).start() as server:
        print(server.directory_url)     # https://127.0.0.1:14000/directory

Certificates are issued by ``ca.sign_csr`` under the CA's policy and recorded in its
index; the ACME state (accounts, orders, authorizations) is kept in
``<CA>/acme/state.sqlite``. Needs the ``acme`` extra (``pip install tlskit[acme]``:
josepy for JWS, h11 for HTTP/1.1); ``import tlskit.ca`` never imports this package.
"""

from __future__ import annotations

try:
    import h11  # noqa: F401
    import josepy  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test extra installs both
    from tlskit.ca.errors import CAError

    raise CAError(f"the ACME server needs {exc.name}: pip install 'tlskit[acme]'") from None

from tlskit.ca.acme.problems import AcmeProblem
from tlskit.ca.acme.server import AcmeServer
from tlskit.ca.acme.service import AcmeService
from tlskit.ca.acme.store import AcmeStore

__all__ = ["AcmeProblem", "AcmeServer", "AcmeService", "AcmeStore"]
