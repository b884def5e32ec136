"""Loading the tone lexicon: the project's own word lists, or a user's Loughran-McDonald CSV.

This is the I/O half of :mod:`riskdrift.analysis.sentiment`: it reads the file
and hands the text to the pure parsers. The Loughran-McDonald dictionary is
never shipped with riskdrift; users who hold a licence point
``Settings.lm_dictionary_path`` at their copy.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from riskdrift.analysis.sentiment import (
    Lexicon,
    LexiconError,
    parse_lm_dictionary,
    parse_word_lists,
)
from riskdrift.errors import ConfigurationError

__all__ = ["BUILTIN_LEXICON_NAME", "load_builtin_lexicon", "load_lexicon"]

BUILTIN_LEXICON_NAME = "riskdrift-tone-words/1"


def load_builtin_lexicon() -> Lexicon:
    """The project's own tone word lists, shipped as package data."""
    text = (
        resources.files("riskdrift.analysis")
        .joinpath("data/tone_words.txt")
        .read_text(encoding="utf-8")
    )
    return parse_word_lists(text, name=BUILTIN_LEXICON_NAME)


def load_lexicon(path: Path | None) -> Lexicon:
    """The lexicon to score tone with: a Loughran-McDonald CSV at ``path``, else the built-in lists.

    Raises :class:`ConfigurationError` when ``path`` cannot be read or is not
    a Loughran-McDonald master dictionary.
    """
    if path is None:
        return load_builtin_lexicon()
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the Loughran-McDonald dictionary {path}: {exc}"
        ) from exc
    try:
        return parse_lm_dictionary(text, name=f"loughran-mcdonald:{path.name}")
    except LexiconError as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
