"""TLS 1.2, the modern subset (RFC 5246 with RFC 5288, 5289, 7627, 5746, 7905, 8422, 5077).

Only what rustls keeps: ECDHE key exchange with ECDSA/EdDSA/RSA signatures, AEAD
cipher suites (AES-GCM, ChaCha20-Poly1305), Extended Master Secret required,
renegotiation refused. No CBC, no RSA key transport, no static or finite-field DH,
no compression, no export or NULL suites.

The pieces are independent of the TLS 1.3 handshake code: the PRF and key
derivation (:mod:`.prf`), the suite table (:mod:`.suites`), the message codecs
(:mod:`.messages`) and the record protection (:mod:`.record`).
"""
