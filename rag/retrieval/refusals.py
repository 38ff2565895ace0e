"""Refusal policy: which reason, which candidates, in words a support agent understands."""

from __future__ import annotations

from collections.abc import Sequence

from rag.domain.trust import TrustStatus, epoch_to_datetime
from rag.domain.types import Candidate, Refusal, RefusalReason
from rag.retrieval.evidence import CardEvidence

MESSAGES = {
    RefusalReason.NO_EVIDENCE: (
        "No verified card you can see answers this question. Check the wording, or ask the team that owns "
        "this topic and suggest a new card."
    ),
    RefusalReason.ONLY_UNVERIFIED: (
        "The only cards that cover this question have never been verified, so Verity will not answer from "
        "them. Ask the verifier listed with each card to verify it."
    ),
    RefusalReason.ONLY_EXPIRED: (
        "The cards that cover this question are past their verification date, so Verity will not answer "
        "from them. Ask the verifier listed with each card to re-verify it."
    ),
}


def refuse(untrusted_relevant: Sequence[CardEvidence]) -> Refusal:
    """Pure. `untrusted_relevant`: visible, unverified or expired cards above the relevance threshold."""
    candidates = tuple(
        Candidate(
            card_id=c.facts.card_id,
            title=c.facts.title,
            status=c.trust,
            owner=c.facts.owner,
            verifier=c.facts.verifier,
            verified_at=c.facts.verified_at,
            verified_until=epoch_to_datetime(c.facts.verified_until_epoch),
            url=c.facts.url,
            rank_score=round(c.rank_score, 4),
            relevance=round(c.confidence, 4),
        )
        for c in sorted(untrusted_relevant, key=lambda c: c.rank_score, reverse=True)
        if c.trust is not TrustStatus.VERIFIED
    )
    if not candidates:
        reason = RefusalReason.NO_EVIDENCE
    elif candidates[0].status is TrustStatus.EXPIRED:
        reason = RefusalReason.ONLY_EXPIRED
    else:
        reason = RefusalReason.ONLY_UNVERIFIED
    return Refusal(reason=reason, message=MESSAGES[reason], candidates=candidates)
