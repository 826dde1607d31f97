"""Is a question in English? The sources are, so a question in another language cannot be matched; the page
and the refusal say so in words a learner understands."""

from __future__ import annotations

import re
import unicodedata

# Words that are common in questions in other languages written in Latin letters and are not English words
# (so "die", "was", "come", "per" are left out). A handful is enough: the sources are English, so the page
# only needs to tell a learner why a question in another language found nothing.
_FOREIGN_WORDS = frozenset([
    "que", "qué", "quién", "quien", "cómo", "como", "cuál", "cual", "cuánto", "cuanto", "cuándo", "cuando",
    "por", "para", "una", "los", "las", "del", "sirve", "es", "el", "la", "qu'est-ce", "quoi", "pourquoi",
    "comment", "combien", "quel", "quelle", "est", "les", "des", "du", "pour", "avec", "une", "et", "c'est",
    "wer", "wie", "warum", "wann", "welche", "welcher", "ist", "und", "für", "mit", "eine", "ein", "einer",
    "der", "das", "hat", "wird", "sind", "dauert", "hilft", "entwickelt", "che", "cosa", "chi", "perché",
    "quanto", "quale", "della", "delle", "funziona", "il", "gli", "sono", "tempo", "dura", "aiuta", "quem",
    "porque", "quando", "qual", "é", "são", "uma", "dos", "das", "não", "ajuda", "ayuda", "wat", "waarom",
    "wanneer", "welke", "het", "een", "voor", "zijn", "terapia", "psicoterapia", "psychothérapie",
    "psychotherapie", "interpersonale", "interpersonnelle", "interpersonelle", "depresión", "depressão",
    "depressione", "dépression"
])


_ENGLISH_WORDS = frozenset([
    "the", "a", "an", "is", "are", "was", "what", "who", "whom", "whose", "how", "why", "when", "which",
    "where", "does", "do", "did", "can", "could", "should", "would", "will", "of", "to", "in", "on", "for",
    "with", "and", "or", "it", "its", "that", "this", "my", "me", "i", "you", "your", "we", "they", "be",
    "been", "about", "from", "by", "as", "at", "long", "help"
])


def looks_non_english(question: str) -> bool:
    """True when the question is most likely not English: mostly letters of another script (Arabic, Hebrew,
    Cyrillic, CJK, ...), Spanish inverted marks, or more words of other Latin-script languages than English
    ones. A heuristic for the refusal's wording only: no English question of the gold set trips it."""
    letters = [c for c in question if c.isalpha()]
    if not letters:
        return False
    other_script = sum(1 for c in letters if not unicodedata.name(c, "").startswith("LATIN"))
    if other_script > len(letters) / 2 or "¿" in question or "¡" in question:
        return True
    tokens = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", question.lower())
    foreign = sum(1 for t in tokens if t in _FOREIGN_WORDS)
    english = sum(1 for t in tokens if t in _ENGLISH_WORDS)
    return foreign >= 2 and foreign > english
