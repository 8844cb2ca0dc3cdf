"""The work budget of one ``verify_chain`` call, shared by the path builder
(tlskit.pki.verify) and the CRL checker (tlskit.pki.crl), which both spend it.

Path building over attacker-supplied intermediates (and CRLs) is bounded: at most
``MAX_SIGNATURE_CHECKS`` signature verifications and ``MAX_CANDIDATES`` candidate
issuers examined per call, after which the search gives up with
:class:`~tlskit.pki.errors.PathBuildingExhausted`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlskit.pki.errors import PathBuildingExhausted

#: Signature verifications allowed per verify_chain call (webpki uses the same figure).
MAX_SIGNATURE_CHECKS = 100
#: Candidate issuers examined per call, whatever their fate.
MAX_CANDIDATES = 1000


@dataclass
class Budget:
    signatures: int = MAX_SIGNATURE_CHECKS
    candidates: int = MAX_CANDIDATES

    def spend_signature(self) -> None:
        self.signatures -= 1
        if self.signatures < 0:
            raise PathBuildingExhausted(
                f"gave up after {MAX_SIGNATURE_CHECKS} signature checks without finding a valid path",
                rule="work-limit",
            )

    def spend_candidate(self) -> None:
        self.candidates -= 1
        if self.candidates < 0:
            raise PathBuildingExhausted(
                f"gave up after examining {MAX_CANDIDATES} candidate issuers", rule="work-limit"
            )
