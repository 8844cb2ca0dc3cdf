"""SSLKEYLOGFILE support: where tlskit writes TLS secrets when the user asks.

Writing traffic secrets to a file lets anyone holding that file decrypt the
captured traffic (that is its purpose: Wireshark, debugging). tlskit therefore
never writes one unless asked, in one of two ways:

* explicitly, with ``keylog_file=PATH`` on a config (or ``connect``/``serve``/
  ``tlskit.aio`` keyword arguments);
* by setting the ``SSLKEYLOGFILE`` environment variable, as with curl, Firefox
  and Chrome. Only the socket and asyncio layers (and so the CLI) read the
  variable; the sans-IO engine never looks at the environment. Pass
  ``keylog_from_env=False`` to ``connect``/``serve``/``tlskit.aio`` to ignore it.

The file uses the NSS key log format (one ``LABEL client_random secret`` line
per secret); the engine appends to it.
"""

from __future__ import annotations

import os

ENVIRONMENT_VARIABLE = "SSLKEYLOGFILE"


def keylog_file_from_environment(environ: "os._Environ[str] | dict[str, str] | None" = None) -> str | None:
    """The key log path the user asked for through SSLKEYLOGFILE, or None.

    An empty value means "not set", as in OpenSSL-based tools.
    """
    env = os.environ if environ is None else environ
    value = env.get(ENVIRONMENT_VARIABLE, "").strip()
    return value or None
