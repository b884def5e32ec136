"""Tone scoring, the built-in word lists and the Loughran-McDonald CSV loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskdrift.agent.lexicons import BUILTIN_LEXICON_NAME, load_lexicon
from riskdrift.analysis.sentiment import (
    Lexicon,
    LexiconError,
    parse_lm_dictionary,
    parse_word_lists,
    score_tone,
)
from riskdrift.errors import ConfigurationError

LM_CSV = """Word,Seq_num,Negative,Positive,Uncertainty,Litigious,Strong_Modal,Weak_Modal,Source
LOSS,1,2009,0,0,0,0,0,12of12inf
GAIN,2,0,2009,0,0,0,0,12of12inf
MAY,3,0,0,2009,0,0,2009,12of12inf
COURT,4,0,0,0,2009,0,0,12of12inf
MUST,5,0,0,0,0,2009,0,12of12inf
TABLE,6,0,0,0,0,0,0,12of12inf
"""


def test_lm_dictionary_loader(tmp_path: Path) -> None:
    path = tmp_path / "LM.csv"
    path.write_text(LM_CSV, encoding="utf-8")
    lexicon = load_lexicon(path)
    assert lexicon.name == "loughran-mcdonald:LM.csv"
    assert lexicon.members("negative") == {"loss"}
    assert lexicon.members("weak_modal") == {"may"}
    assert "table" not in set().union(*lexicon.categories.values())
    tone = score_tone("A loss may follow; the court must rule. Gain loss", lexicon)
    words = 10
    assert tone.negative == pytest.approx(100 * 2 / words)
    assert tone.positive == pytest.approx(100 * 1 / words)
    assert tone.litigious == pytest.approx(100 * 1 / words)
    assert tone.net == pytest.approx((1 - 2) / 3, abs=1e-4)


def test_lm_loader_rejects_other_csv(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("Word,Score\nloss,1\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="missing column"):
        load_lexicon(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_lexicon(tmp_path / "absent.csv")
    with pytest.raises(LexiconError):
        parse_lm_dictionary(
            "Word,Negative,Positive,Uncertainty,Litigious,Strong_Modal,Weak_Modal\n"
        )


def test_builtin_lexicon_loads_and_scores() -> None:
    lexicon = load_lexicon(None)
    assert lexicon.name == BUILTIN_LEXICON_NAME
    assert all(lexicon.members(c) for c in lexicon.categories)
    grim = score_tone("Losses, litigation and failures could harm and impair us.", lexicon)
    bright = score_tone("Strong growth, improved profitability and successful innovation.", lexicon)
    assert grim.net == -1.0
    assert grim.negative > 0
    assert grim.litigious > 0
    assert bright.net == 1.0
    assert score_tone("", lexicon).net == 0.0


def test_word_list_format_errors() -> None:
    with pytest.raises(LexiconError, match="unknown tone category"):
        parse_word_lists("[happy]\nyes\n", name="x")
    with pytest.raises(LexiconError, match="before the first"):
        parse_word_lists("word\n", name="x")
    lex = parse_word_lists("# c\n[negative]\nBad worse # comment\n", name="x")
    assert lex == Lexicon(
        "x", {**{c: frozenset() for c in lex.categories}, "negative": frozenset({"bad", "worse"})}
    )
