"""Matching Danish as citizens write it: with or without æ/ø/å, and with small typos."""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+")
_OTHER_SCRIPT = re.compile(r"[^\W\d_a-z]+")  # letters left after folding: Arabic, Cyrillic, ...
_stemmer = snowballstemmer.stemmer("danish")


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lowercase with æ/ø/å, aa/ae/oe and accents reduced to one spelling, punctuation as spaces."""
    text = text.lower().replace("å", "aa").replace("æ", "ae").replace("ø", "oe")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("aa", "a").replace("ae", "a").replace("oe", "o")
    return " ".join(_WORD.findall(text))


def words(text: str) -> list[str]:
    return fold(text).split()


@cache
def stem(word: str) -> str:
    """One word's Danish stem, folded first, so that every spelling of it stems alike."""
    return str(_stemmer.stemWord(fold(word).replace(" ", "")))


def other_script_words(text: str) -> list[str]:
    """The words fold() leaves out because they are not in the Latin alphabet ("مرحبا", "привіт"), lowercased."""
    lowered = unicodedata.normalize("NFKD", text.lower().replace("å", "aa").replace("æ", "ae").replace("ø", "oe"))
    return _OTHER_SCRIPT.findall("".join(ch for ch in lowered if not unicodedata.combining(ch)))


def within_one_edit(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def phrase_score(phrase: str, text_words: list[str]) -> int:
    """How strongly a keyword phrase occurs in the text: its length when found, else 0.

    A single word also matches as the start of a longer word ("tavshedspligten") and,
    from six letters on, with one typo after the first letter ("tavshetspligt").
    Every answer scores every keyword of the knowledge base, so the words of a phrase and
    whether a keyword matches a word are remembered (the action server spent most of its time here).
    """
    target, size = _phrase(phrase)
    n = len(target)
    if n == 1:
        keyword = target[0]
        return size if any(_word_matches(keyword, w) for w in text_words) else 0
    for i in range(len(text_words) - n + 1):
        if all(_word_matches(t, text_words[i + j]) for j, t in enumerate(target)):
            return size
    return 0


@lru_cache(maxsize=16384)
def _phrase(phrase: str) -> tuple[tuple[str, ...], int]:
    return tuple(phrase.split()), len(phrase.replace(" ", ""))


def exact_phrase(phrase: str, text_words: list[str]) -> int:
    """Like phrase_score, but the phrase's words must occur exactly, in order."""
    target = phrase.split()
    n = len(target)
    if n and any(text_words[i : i + n] == target for i in range(len(text_words) - n + 1)):
        return len(phrase.replace(" ", ""))
    return 0


@lru_cache(maxsize=1 << 17)
def _word_matches(keyword: str, word: str) -> bool:
    if keyword == word:
        return True
    if len(keyword) >= 4 and word.startswith(keyword) and len(word) - len(keyword) <= 4:
        return True
    # One typo from six letters on, but not in the first letter: "ehospital" is not "hospital".
    return len(keyword) >= 6 and keyword[0] == word[:1] and within_one_edit(keyword, word)
