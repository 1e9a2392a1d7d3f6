"""Finding the knowledge entry a message is about, when the intent alone does not say.

Every entry the bot can answer with (a topic, an item of a topic's list, an opportunity,
an unknown) is indexed for BM25 (the bm25s library) on its title, keywords and text,
in one spelling: lowercased, stemmed by the Danish Snowball stemmer and folded
(æ/ø/å, ae/oe/aa), with Danish function words left out. Query words the index does not
know are matched to an indexed word within one typo, so "tavshetspligt" still finds
"tavshedspligt".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Iterable

import bm25s
import numpy as np

from bot.language.text import stem, within_one_edit

if TYPE_CHECKING:
    from bot.knowledge.base import KnowledgeBase

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
TYPO_MIN_LENGTH = 5  # shorter words are too close to other words to guess at
TITLE_WEIGHT, KEYWORD_WEIGHT = 2, 2


@dataclass(frozen=True)
class Entry:
    """One thing the bot can answer with: `ref` is "topic:<id>", "item:<topic id>#<n>", "opp:<id>" or "unknown:<id>"."""

    ref: str
    title: str
    intent: str  # "" for opportunities, items and unknowns
    text: str  # what is indexed besides title and keywords

    @property
    def kind(self) -> str:
        return self.ref.partition(":")[0]


@cache
def _stopwords() -> frozenset[str]:
    from bot.knowledge import kb

    return frozenset(stem(w) for w in kb().vocabulary["stopwords"])


def tokens(text: str) -> list[str]:
    """The words of a text as the index compares them: stemmed, folded, without function words."""
    stop = _stopwords()
    return [t for word in _WORD.findall(text) if (t := stem(word)) and t not in stop]


class Index:
    """BM25 over every knowledge entry."""

    def __init__(self, entries: Iterable[tuple[Entry, Iterable[str]]]) -> None:
        self.entries: list[Entry] = []
        corpus: list[list[str]] = []
        for entry, keywords in entries:
            words = tokens(entry.title) * TITLE_WEIGHT + [t for k in keywords for t in tokens(k)] * KEYWORD_WEIGHT + tokens(entry.text)
            self.entries.append(entry)
            corpus.append(words or ["-"])
        self.vocabulary = {word for words in corpus for word in words}
        self._by_length: dict[int, list[str]] = {}
        for word in self.vocabulary:
            self._by_length.setdefault(len(word), []).append(word)
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)

    def _known(self, word: str) -> str | None:
        """The indexed word the query word means: itself, or one within a typo (not in the first letter)."""
        if word in self.vocabulary:
            return word
        if len(word) < TYPO_MIN_LENGTH:
            return None
        for length in (len(word) - 1, len(word), len(word) + 1):
            for candidate in self._by_length.get(length, ()):
                if candidate[0] == word[0] and within_one_edit(word, candidate):
                    return candidate
        return None

    def query_words(self, text: str) -> list[str]:
        return [known for word in tokens(text) if (known := self._known(word))]

    def scores(self, text: str) -> dict[str, float]:
        """Each entry's BM25 score for the text, by ref; entries that share no word score 0."""
        words = self.query_words(text)
        if not words:
            return {}
        values = np.asarray(self._bm25.get_scores(words), dtype=float)
        return {entry.ref: float(score) for entry, score in zip(self.entries, values, strict=True) if score > 0}

    def ranked(self, text: str, refs: Iterable[str] | None = None) -> list[tuple[Entry, float]]:
        """Entries sharing words with the text, best first; only those in `refs` when given."""
        scores = self.scores(text)
        allowed = None if refs is None else set(refs)
        found = [(e, scores[e.ref]) for e in self.entries if e.ref in scores and (allowed is None or e.ref in allowed)]
        return sorted(found, key=lambda pair: -pair[1])


def build(knowledge: KnowledgeBase) -> Index:
    entries: list[tuple[Entry, Iterable[str]]] = []
    for topic in knowledge.topics:
        entries.append((Entry(f"topic:{topic.id}", topic.title, topic.intent, f"{topic.answer} {topic.more}"), topic.keywords))
        for n, item in enumerate(topic.items, start=1):
            entries.append((Entry(f"item:{topic.id}#{n}", item.title, "", item.answer), ()))
    for opp in knowledge.opportunities:
        entries.append((Entry(f"opp:{opp.id}", opp.title, "", f"{opp.summary} {opp.answer} {opp.where}"), opp.tags))
    for unknown in knowledge.unknowns:
        entries.append((Entry(f"unknown:{unknown.id}", unknown.title, "", ""), unknown.keywords))
    return Index(entries)
