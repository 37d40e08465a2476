"""From typed text to search terms, the same for both catalogs: words, stop words, stems, synonyms.

Indexed text and questions go through the same steps in Python, so SQLite's FTS5 and
PostgreSQL's `tsvector` hold and look up the very same tokens:

1. words: letters and digits, lower-cased; `_`, `.` and every other sign separate words
   (`customer_revenue` is `customer revenue`);
2. stop words dropped: the Snowball English list (PostgreSQL's `english.stop`) and `per`;
   a question also drops the platform team's own (`stop_words:` of the synonym standard);
3. stems: the Snowball English stemmer (`snowballstemmer`, the algorithm of PostgreSQL's
   `english` configuration): `revenues` and `revenue` are both `revenu`;
4. synonyms (questions only): the platform team's list (`standards/search_synonyms.yaml`,
   registered like the access policy): a word or phrase a consumer types, with the words the
   catalog uses for it (`country` -> `nation`, `line items` -> `lineitem`).

A question becomes `Concept`s, one per word (or synonym phrase) typed: each matches a product
through any of its alternatives (the stems typed, or a synonym).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import snowballstemmer
import yaml
from pydantic import Field, ValidationError

from mesh_platform.errors import SpecError
from mesh_platform.registry import registry
from mesh_platform.spec.fields import Frozen

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Snowball's English stop words (PostgreSQL's english.stop), and `per`.
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into
    through during before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few more most other some
    such no nor not only own same so than too very s t can will just don should now per""".split()  # noqa: SIM905 (the list as Snowball prints it)
)
_STEMMER = snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased; every sign (and `_`) separates words."""
    return _WORD.findall(text.lower())


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A word's Snowball English stem."""
    return str(_STEMMER.stemWord(word))


def tokens(text: str) -> list[str]:
    """What the index holds of `text`: its words' stems, stop words left out."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS]


def indexed(text: str) -> str:
    """`tokens` as one space-separated string, as both full-text engines store it."""
    return " ".join(tokens(text))


class SynonymStandard(Frozen):
    """A version of the platform team's search synonyms."""

    version: int = Field(ge=1)
    synonyms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    stop_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """Synonyms by the stems of what is typed, and the extra stop words."""

    synonyms: dict[tuple[str, ...], tuple[tuple[str, ...], ...]]
    stop_words: frozenset[str]

    @property
    def longest(self) -> int:
        """The most words a synonym's typed side has."""
        return max((len(k) for k in self.synonyms), default=1)


def synonym_files() -> list[Path]:
    """The synonym files the standards packages registered."""
    return list(registry().search_synonym_files)


@functools.cache
def vocabulary() -> Vocabulary:
    """The synonym standard in effect: the highest `version:` among the registered files
    (none registered: no synonyms).

    Kept between commands under the installation's digest (`config/kept.py`): finding the
    files means loading every standards package (their rules compile with sqlglot), a third
    of a second of a `mesh search` otherwise.
    """
    from mesh_platform.config.kept import kept_value
    from mesh_platform.config.sources import installation_digest

    kept = kept_value("search_vocabulary", installation_digest(), _registered_vocabulary)
    synonyms = {
        tuple(typed): tuple(tuple(words) for words in alternatives)
        for typed, alternatives in kept["synonyms"]
    }
    return Vocabulary(synonyms, frozenset(kept["stop_words"]))


def _registered_vocabulary() -> dict[str, Any]:
    """The registered synonym standard in effect, compiled, as JSON-ready data."""
    found: dict[int, SynonymStandard] = {}
    for path in synonym_files():
        standard = load_synonyms(path)
        if standard.version in found:
            raise SpecError(
                f"search synonyms version {standard.version} is registered twice",
                file=path,
                fix="give the new synonym file the next `version:`",
            )
        found[standard.version] = standard
    compiled = compile_vocabulary(found[max(found)]) if found else Vocabulary({}, frozenset())
    return {
        "synonyms": [[list(k), [list(a) for a in v]] for k, v in compiled.synonyms.items()],
        "stop_words": sorted(compiled.stop_words),
    }


def load_synonyms(path: Path) -> SynonymStandard:
    """One synonym file; a `SpecError` naming the file when it is wrong."""
    try:
        return SynonymStandard.model_validate(yaml.safe_load(path.read_text()) or {})
    except (ValidationError, yaml.YAMLError) as exc:
        raise SpecError(
            f"search synonyms: {exc}",
            file=path,
            fix="`version: N`, `synonyms: {typed: [catalog words]}`, `stop_words: [...]`",
        ) from None


def compile_vocabulary(standard: SynonymStandard) -> Vocabulary:
    """The standard with both sides stemmed (`countries` finds the `country` entry)."""
    synonyms: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for typed, alternatives in standard.synonyms.items():
        key = tuple(tokens(typed))
        if not key:
            continue
        found = [tuple(tokens(a)) for a in alternatives]
        synonyms[key] = tuple(dict.fromkeys([*synonyms.get(key, ()), *(a for a in found if a)]))
    return Vocabulary(synonyms, frozenset(w.lower() for w in standard.stop_words))


@dataclass(frozen=True)
class Concept:
    """A word (or synonym phrase) of a question: what was typed, and the token sequences that
    match it (the typed stems first, then the synonyms)."""

    typed: str
    alternatives: tuple[tuple[str, ...], ...]

    @property
    def stems(self) -> tuple[str, ...]:
        """The typed side's stems."""
        return self.alternatives[0]


def concepts(question: str, vocabulary_: Vocabulary | None = None) -> list[Concept]:
    """The concepts of a question, in order: stop words dropped, longest synonym phrase
    first (`line items` is one concept matching `line item` or `lineitem`)."""
    known = vocabulary() if vocabulary_ is None else vocabulary_
    typed = [w for w in words(question) if w not in STOP_WORDS and w not in known.stop_words]
    stems = [stem(w) for w in typed]
    found: list[Concept] = []
    start = 0
    while start < len(stems):
        for size in range(min(known.longest, len(stems) - start), 0, -1):
            key = tuple(stems[start : start + size])
            if key in known.synonyms or size == 1:
                alternatives = (key, *(a for a in known.synonyms.get(key, ()) if a != key))
                found.append(Concept(" ".join(typed[start : start + size]), alternatives))
                start += size
                break
    return list({c.alternatives: c for c in found}.values())
