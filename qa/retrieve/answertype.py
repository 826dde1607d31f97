"""The kind of answer a question asks for, and whether a passage holds an answer of that kind.

"who created it" wants people, "how long" a duration, "how often" a frequency, "how many" a count, "how
much" / "cost" a price, "where" a place or setting, "what year" / "when was it made" a date. A passage that
holds the kind of answer asked for is likelier to answer; when no retrieved passage holds it (a year the
sources never give), that is evidence that the sources do not answer the question. Questions of other
shapes ("what is", "does it", "why") ask for no particular kind: `kind_of` returns None for them.

Plain patterns, not a tagger: they need to be right on questions and on the corpus's sentences, and they
are short enough to read. Checked in tests/retrieve/test_answertype.py on learner phrasings.
"""

from __future__ import annotations

import re
from functools import lru_cache

PERSON, DURATION, SESSION_LENGTH, FREQUENCY, COUNT, PRICE, PLACE, DATE = (
    "person", "duration", "session length", "frequency", "count", "price", "place", "date")
KINDS = (PERSON, DURATION, SESSION_LENGTH, FREQUENCY, COUNT, PRICE, PLACE, DATE)

_CREATE = r"(?:made|make|created?|invent\w*|develop\w*|found\w*|came up|come up|start\w*|discover\w*|design\w*|" \
          r"wrote|write|written|author\w*|behind|pioneer\w*|originat\w*)"
# Question patterns, tried in order; the first that matches decides.
_QUESTION = [
    (DATE, re.compile(r"\bwhat (?:year|date|decade|century)\b|\bwhich year\b|\bin what year\b|"
                      rf"\bwhen (?:was|were|did|is)\b.*\b(?:{_CREATE}|updated?|published|released|first)\b|"
                      r"\bhow old is\b|\bsince when\b", re.I)),
    (PERSON, re.compile(rf"\bwho(?:'s| is| are| was| were)?\b.*\b{_CREATE}\b|\bwho (?:is|was) (?:dr\.?|the author)\b|"
                        rf"\bwhich (?:person|people|doctor|psychiatrist|researcher)s?\b.*\b{_CREATE}\b|"
                        r"\bwho wrote\b|\bwhose (?:idea|work|therapy)\b|\bwho is\b.*\b(?:dr|author|writer)\b", re.I)),
    # The length of one meeting is told in hours or minutes, the length of a course in weeks or sessions.
    (SESSION_LENGTH, re.compile(r"\bhow long (?:is|are|does|do|will|would)\b.{0,12}\b(?:sessions?|appointments?|"
                                r"meetings?|visits?)\b(?! (?:go on|take|last) for (?:weeks|months))|"
                                r"\b(?:sessions?|appointments?) (?:length|duration)\b|"
                                r"\bhow many (?:hours|minutes)\b.{0,20}\b(?:sessions?|appointments?)\b", re.I)),
    (FREQUENCY, re.compile(r"\bhow (?:often|frequently)\b|\bhow many times\b|\bhow regularly\b|"
                           r"\b(?:every|each|per) (?:day|week|month)\b|\bweekly or\b", re.I)),
    (DURATION, re.compile(r"\bhow long\b|\bhow many (?:weeks|months|years|hours|minutes|days)\b|\bduration\b|"
                          r"\blength of\b|\bhow quickly\b|\bhow soon\b|\bshort[- ]term\b|\blong[- ]term\b|"
                          r"\bfor how long\b", re.I)),
    (PRICE, re.compile(r"\bhow much (?:does|do|is|will|would|did|are)\b.*\b(?:cost|charge|pay|price)|"
                       r"\bhow much (?:is it|does it cost|money)\b|\bcosts?\b|\bprice[sd]?\b|\bexpensive\b|"
                       r"\bcheap\b|\bafford\w*\b|\bfees?\b|\binsur\w*\b|\bpay(?:ing)? for\b|\bfree\b", re.I)),
    (COUNT, re.compile(r"\bhow many\b|\bnumber of\b", re.I)),
    (PLACE, re.compile(r"^\s*where\b|\bwhere (?:is|are|can|do|does|would|could|will)\b|"
                       r"\bin what (?:settings?|places?)\b|\bwhat (?:settings?|places?|kind of place)\b", re.I)),
]

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_NUMBER_WORDS = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|sixteen|twenty|" \
                r"several|a few|many)"
_UNITS = r"(?:hours?|minutes?|weeks?|months?|years?|days?|sessions?)"
# Passage patterns: an answer of the kind.
_PASSAGE = {
    DURATION: re.compile(rf"\b(?:\d+|{_NUMBER_WORDS})(?:\s*(?:-|–|to)\s*\d+)?[- ]{_UNITS}\b|"
                         r"\b(?:short|long)[- ]term\b|\btime[- ]limited\b|\bbrief\b|\btime limit\b|\bduration\b", re.I),
    SESSION_LENGTH: re.compile(rf"\b(?:\d+|{_NUMBER_WORDS}|an?|half an?)[- ](?:hours?|minutes?|mins?)\b|"
                               r"\bhour[- ]long\b|\bminute[- ]long\b", re.I),
    FREQUENCY: re.compile(r"\bweekly\b|\bonce (?:a|per) (?:week|day|month)\b|\bdaily\b|\bmonthly\b|"
                          r"\b(?:every|each) (?:week|day|month)\b|\btwice a\b|\btimes a (?:week|month)\b", re.I),
    COUNT: re.compile(rf"\b\d+(?:\s*(?:-|–|to)\s*\d+)?\b|\b{_NUMBER_WORDS}\b|\bnumber of\b", re.I),
    PRICE: re.compile(r"[$£€]\s*\d|\b\d+\s*(?:dollars|pounds|euros)\b|\bcosts?\b|\bexpensive\b|\bcheap\b|"
                      r"\bafford\w*\b|\bpaying\b|\bpaid\b|\binsurance\b|\bcover(?:s|ed|age)\b|\bfees?\b|\bprice\b",
                      re.I),
    PLACE: re.compile(r"\bclinics?\b|\bhospitals?\b|\bcent(?:er|re)s?\b|\bsettings?\b|\bonline\b|"
                      r"\bwhere you live\b|\btravel\b|\boutpatient\b|\binpatient\b|\bhttps?://\S+|\bvisit\b", re.I),
    DATE: re.compile(rf"\b(?:1[89]\d\d|20\d\d)[a-z]?\b|\b{_MONTHS}\b", 0),
}
# People: a titled name ("Dr. Park"), an "X and Y" pair of capitalised names, or a capitalised name with an
# initial ("Gerald L. Klerman"); or "by/author" before a capitalised name.
_PERSON = re.compile(r"\b(?:Dr|Prof|Mr|Mrs|Ms)\.?\s+[A-Z][a-z]+|\b[A-Z][a-z]+\s+(?:[A-Z]\.\s+)?[A-Z][a-z]+"
                     r"(?:\s+and\s+[A-Z][a-z]+\s+(?:[A-Z]\.\s+)?[A-Z][a-z]+)|\b[A-Z][a-z]+\s+[A-Z]\.\s+[A-Z][a-z]+\b|"
                     r"\b(?:by|author|developed by|created by)\s+[A-Z][a-z]+\s+[A-Z][a-z]+|\bet al\b|"
                     r"\b[A-Z][a-z]+'s\s+\(\d{4}")


@lru_cache(maxsize=4096)
def kind_of(question: str) -> str | None:
    """The kind of answer `question` asks for, or None when it asks for no particular kind."""
    for kind, pattern in _QUESTION:
        if pattern.search(question):
            return kind
    return None


def holds(kind: str, text: str) -> bool:
    """Does `text` hold an answer of `kind`?"""
    if kind == PERSON:
        return bool(_PERSON.search(text))
    if kind == COUNT:
        # A duration or frequency is a count too ("12 to 16 sessions", "once a week").
        return bool(_PASSAGE[COUNT].search(text) or _PASSAGE[DURATION].search(text))
    return bool(_PASSAGE[kind].search(text))


# A duration as a value, as a sentence gives it: a number and its unit, with up to two words between ("12 to
# 16 weekly sessions", "12 to 16 one-hour weekly sessions"), or a term for it ("short-term", "brief"). Not the
# words that only name it ("this duration arose as a compromise", "a strict time limit"): they make a passage
# likelier to answer, but a sentence holding only them does not state the answer.
_DURATION_VALUE = re.compile(rf"\b(?:\d+|{_NUMBER_WORDS})(?:\s*(?:-|–|to)\s*\d+)?(?:[- ][\w-]+){{0,2}}?[- ]"
                             rf"{_UNITS}\b|\b(?:short|long)[- ]term\b|\btime[- ]limited\b|\bbrief\b", re.I)


def states(kind: str, sentence: str) -> bool:
    """Does `sentence` state an answer of `kind` (a value: "12 to 16 weekly sessions", "Klerman and
    Weissman"), rather than only name it? For choosing the sentence to highlight."""
    if kind == DURATION:
        return bool(_DURATION_VALUE.search(sentence))
    if kind == COUNT:
        return bool(_DURATION_VALUE.search(sentence) or _PASSAGE[COUNT].search(sentence.replace("number of", "")))
    return holds(kind, sentence)
