"""Page furniture: passages that are about the page rather than the topic.

Web extracts keep some of what surrounds an article: the author's biography, lists of links ("For more
information ... visit:", "Sources"), the link to a video, sign-up prompts. Segmentation drops what is pure
chrome (qa/ingest/passages.py); what carries information a learner may ask for ("who wrote this", "where can I read
more") stays a passage, but it must never outrank content for a question that does not ask for it.
"""

from __future__ import annotations

import re

LINKS, AUTHOR, SIGNUP = "links", "author", "signup"
KINDS = (LINKS, AUTHOR, SIGNUP)

_URL_LINE = re.compile(r"^\s*<?(?:https?://|www\.)\S+>?\s*$", re.I)
_LINK_HEADINGS = re.compile(r"^(?:sources?|references?|further reading|(?:useful |external )?links?|resources|"
                            r"bibliography|see also|read more|learn more|for more information)\b", re.I)
_LINK_LEADIN = re.compile(r"^\s*(?:for more information|to learn more|read more|link to (?:the )?video|sources?\b|"
                          r"references?\b|further reading)", re.I)
_AUTHOR = re.compile(r"^\s*(?:about the author|author)\b|^\s*(?:Dr\.?|Prof\.?|Mr\.?|Mrs\.?|Ms\.?)?\s*[A-Z][a-z]+"
                     r"(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+ is an? (?:[\w-]+ ){0,4}(?:doctor|writer|journalist|expert|"
                     r"author|editor|researcher|psychologist|psychiatrist|therapist|nurse|contributor)\b", re.I)
_SIGNUP = re.compile(r"\b(?:sign up|log in|sign in|continue with (?:facebook|google|apple)|create an account|"
                     r"already a member|terms of use|privacy polic(?:y|ies))\b", re.I)

# What a learner types when the page itself is what they want.
_ASKS = {
    LINKS: re.compile(r"\b(?:read more|more (?:info|information|reading)|further reading|learn more|find out more|"
                      r"sources?|references?|links?|websites?|urls?|sites?|web ?pages?|articles?|cited|citations?|"
                      r"bibliography|video|youtube)\b|\bwhere (?:can|do|should|could) i (?:read|find|learn|look|get)\b",
                      re.I),
    AUTHOR: re.compile(r"\b(?:author|authors|wrote|written|writer|byline|credentials|biography|bio|updated|"
                       r"published|dated?)\b|\bhow (?:old|recent|current|up to date)\b|"
                       r"\bwho (?:is|was) (?:dr|mr|ms|mrs|prof)\b|\bwho (?:made|makes|runs|publishe[sd]) (?:this|the) "
                       r"(?:page|site|article)\b", re.I),
    SIGNUP: re.compile(r"\b(?:sign ?up|log ?in|register|account|join)\b", re.I),
}


def furniture_kind(section: str, text: str) -> str | None:
    """The kind of page furniture a passage is (LINKS, AUTHOR, SIGNUP), or None for content."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    urls = sum(bool(_URL_LINE.match(ln)) for ln in lines)
    if urls and (urls * 3 >= len(lines) or _LINK_HEADINGS.match(section.strip()) or _LINK_LEADIN.match(lines[0])):
        return LINKS
    if _AUTHOR.search(section) or _AUTHOR.match(lines[0]) or section.strip().lower() == "about this page":
        return AUTHOR
    if len(_SIGNUP.findall(text)) >= 2:
        return SIGNUP
    return None


def asks_for(question: str, kind: str) -> bool:
    """Does the question ask for this kind of furniture ("where can I read more", "who wrote this")? Who
    wrote or dated a page is asked of the page itself: "who wrote this article" wants the byline, not the
    list of articles it links to."""
    if kind == LINKS and _ASKS[AUTHOR].search(question):
        return False
    return bool(_ASKS[kind].search(question))
