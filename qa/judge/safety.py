"""Questions that mention suicide or self-harm get a crisis notice shown above any passage."""

from __future__ import annotations

import re

CRISIS_NOTICE = (
    "If you are thinking about suicide or self-harm, or are worried about someone, please contact your local "
    "emergency number (such as 911, 112 or 999) or a crisis line now (for example 988 in the US, or Samaritans "
    "on 116 123 in the UK and Ireland). You do not have to face this alone. This tool only shows excerpts for "
    "learning and cannot help in a crisis."
)

_CRISIS_RE = re.compile(
    r"suicid|self[\s-]*harm|self[\s-]*injur|kill(?:ing)?\s+(?:my|your|him|her|them)sel|"
    r"hurt(?:ing)?\s+(?:my|your)sel|harm(?:ing)?\s+(?:my|your)sel|end(?:ing)?\s+(?:my|his|her|their)\s+(?:own\s+)?life|"
    r"take\s+my\s+(?:own\s+)?life|want(?:ed)?\s+to\s+die|wish\s+i\s+(?:was|were)\s+dead|"
    r"cutting\s+(?:my|your)sel|overdos|no\s+reason\s+to\s+live|better\s+off\s+dead",
    re.IGNORECASE,
)


def crisis_notice(question: str) -> str | None:
    """The notice text when the question mentions suicide or self-harm, else None."""
    return CRISIS_NOTICE if _CRISIS_RE.search(" ".join(question.split())) else None
