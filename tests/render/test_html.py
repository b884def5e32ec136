"""The HTML report and the CSV of risks, read back as a reader (and a parser) would."""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import analyse_documents
from riskdrift.analysis.sentences import SentenceAligner, redline
from riskdrift.models import AnalysisResult, FilingDocument, Heatmap
from riskdrift.render.charts import heatmap_svg
from riskdrift.render.html import render_report
from riskdrift.render.risks_csv import CSV_COLUMNS, risks_csv
from tests.analysis.corpus_cache import content, html_path
from tests.corpus import needs_corpus


@lru_cache(maxsize=4)
def analyse(ticker: str, current: int, previous: int) -> AnalysisResult:
    def doc(year: int) -> FilingDocument:
        path = html_path(ticker, year)
        return FilingDocument(ticker, year, content(path), str(path), "local")

    return analyse_documents(doc(current), doc(previous), load_lexicon(None))


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _article(tree: HTMLParser, title_part: str) -> Node:
    for article in tree.css("article.risk"):
        heading = article.css_first("h3")
        if heading is not None and title_part in heading.text():
            return article
    raise AssertionError(f"no risk titled …{title_part}… in the report")


@needs_corpus
def test_nvda_report_shows_export_control_additions_and_the_removed_indebtedness_risk() -> None:
    result = analyse("NVDA", 2025, 2024)
    tree = HTMLParser(render_report(result))

    international = _article(tree, "International sales and operations")
    assert international.attributes["data-status"] == "modified"
    added = [_fold(n.text()) for n in international.css(".redline ins")]
    assert any("offerings are limited by export controls" in a for a in added), added
    struck = [_fold(n.text()) for n in international.css(".redline del")]
    assert any("sales to china decreased" in s for s in struck), struck
    # Every added sentence the analysis found is marked in the redline.
    risk = next(r for r in result.risks if (r.title_current or "").startswith("International"))
    assert risk.changes is not None
    for sentence in risk.changes.added:
        assert _fold(sentence.text) in added

    indebtedness = _article(tree, "Our indebtedness could adversely affect")
    assert indebtedness.attributes["data-status"] == "removed"
    body = _fold(indebtedness.css_first(".body").text())
    removed = next(r for r in result.risks if r.status == "removed")
    assert _fold(removed.text_previous or "")[:200] in body

    # The themes table lists terms a reader finds by searching the two filings' Item 1A.
    assert result.themes is not None
    assert result.themes.emerging
    current_text = _fold(" ".join(r.text_current or "" for r in result.risks))
    previous_text = _fold(" ".join(r.text_previous or "" for r in result.risks))
    table = tree.css_first("#themes table.themes")
    assert table is not None
    for row in table.css("tr")[1:4]:
        term, before, after = (c.text() for c in row.css("td")[:3])
        assert term.casefold() in current_text
        assert int(after) > int(before)
        if int(before) == 0:
            assert term.casefold() not in previous_text


@needs_corpus
def test_report_is_self_contained_and_filterable() -> None:
    result = analyse("NVDA", 2025, 2024)
    page = render_report(result)
    tree = HTMLParser(page)
    assert not tree.css("link, img, iframe, script[src]")
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)
    articles = tree.css("article.risk")
    assert len(articles) == len(result.risks)
    categories = {o.attributes["value"] for o in tree.css("#f-category option")} - {""}
    assert categories == {r.category for r in result.risks}
    statuses = {i.attributes["value"] for i in tree.css("#filters input[name=status]")}
    assert statuses == {"modified", "new", "removed", "unchanged"}
    assert {a.attributes["data-category"] for a in articles} == categories


def test_filer_text_is_escaped_never_markup() -> None:
    aligner = SentenceAligner(["We sell widgets.", "We sell <script>alert(1)</script> widgets."])
    changes = aligner.align("We sell widgets.", "We sell <script>alert(1)</script> widgets.")
    result = AnalysisResult.model_validate(
        {
            "ticker": "EVIL",
            "company": "<b>Evil</b> Corp",
            "cik": None,
            "years": [2024, 2023],
            "filings": [],
            "similarity": {"cosine": 1, "jaccard": 1, "min_edit": 1, "simple": 1},
            "risks": [
                {
                    "status": "modified",
                    "category": "operations",
                    "title_current": "<img src=x onerror=alert(1)>",
                    "title_previous": "<img src=x onerror=alert(1)>",
                    "text_similarity": 0.9,
                    "sentiment_current": None,
                    "sentiment_previous": None,
                    "sentiment_delta": None,
                    "drift_score": 0.1,
                    "text_current": "We sell <script>alert(1)</script> widgets.",
                    "text_previous": "We sell widgets.",
                    "changes": changes.model_dump(),
                }
            ],
            "heatmap": {"rows": [], "columns": [], "values": []},
            "summary": "<script>alert(2)</script>",
            "recommendations": [],
            "material_changes": [
                {
                    "score": 0.9,
                    "kind": "new_event",
                    "change": "edited",
                    "reasons": ["new event: <img src=x onerror=alert(3)>"],
                    "risk": 0,
                    "risk_title": "<img src=x onerror=alert(1)>",
                    "risk_status": "modified",
                    "category": "operations",
                    "current": "We sell <script>alert(1)</script> widgets.",
                    "previous": "We sell widgets.",
                    "highlights": ["<script>alert(1)</script>"],
                }
            ],
        }
    )
    page = render_report(result)
    tree = HTMLParser(page)
    assert len(tree.css("script")) == 1  # the report's own filter script only
    assert not tree.css("img, b")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_heatmap_svg_has_a_cell_per_value_and_a_legend() -> None:
    heatmap = Heatmap(
        rows=["regulatory/legal", "supply chain"],
        columns=["count_current", "mean_sentiment_change"],
        values=[[5.0, -0.04], [2.0, 0.02]],
    )
    svg = HTMLParser(str(heatmap_svg(heatmap)))
    cells = svg.css("g.cell rect")
    assert len(cells) == 4
    fills = [c.attributes["fill"] for c in cells]
    assert fills[0] != fills[2]  # 5 is darker than 2 in the count column
    assert fills[1] != fills[3]  # negative and positive tone changes differ in hue
    assert svg.css("g.legend rect")
    labels = [t.text() for t in svg.css("g.cell text")]
    assert labels == ["5", "-0.040", "2", "+0.020"]


def test_redline_keeps_order_and_places_removed_sentences_where_they_were() -> None:
    previous = "Alpha one. Beta two is here. Gamma three stays put. Delta four goes away."
    current = "Alpha one. Beta two is here today. Gamma three stays put. Epsilon five is new."
    changes = SentenceAligner([previous, current]).align(previous, current)
    pieces = redline(previous, current, changes)
    assert [(p.kind, p.text) for p in pieces] == [
        ("same", "Alpha one."),
        ("edited", "Beta two is here today."),
        ("same", "Gamma three stays put."),
        ("removed", "Delta four goes away."),
        ("added", "Epsilon five is new."),
    ]
    # Without the removed ones, the pieces are the current body.
    kept = " ".join(p.text for p in pieces if p.kind != "removed")
    assert kept == current


@needs_corpus
def test_csv_has_one_row_per_risk_with_the_result_figures() -> None:
    result = analyse("NVDA", 2025, 2024)
    rows = list(csv.DictReader(io.StringIO(risks_csv(result))))
    assert len(rows) == len(result.risks)
    assert tuple(rows[0]) == CSV_COLUMNS
    for row, risk in zip(rows, result.risks, strict=True):
        assert row["status"] == risk.status
        assert float(row["drift_score"]) == pytest.approx(risk.drift_score)
        if risk.changes is not None:
            assert int(row["sentences_added"]) == len(risk.changes.added)


@needs_corpus
def test_report_opens_with_the_material_changes() -> None:
    result = analyse("NVDA", 2025, 2024)
    tree = HTMLParser(render_report(result))
    sections = [node.attributes.get("id") for node in tree.css("body > section")]
    assert sections[0] == "material"
    items = tree.css("#material ol.material > li")
    assert len(items) == len(result.material_changes)
    for item, change in zip(items, result.material_changes, strict=True):
        assert item.attributes["data-score"] == f"{change.score:.2f}"
        assert item.attributes["data-kind"] == change.kind
        quoted = item.css_first("blockquote")
        assert quoted is not None
        assert _fold(change.current or change.previous or "") in _fold(quoted.text())
        assert [li.text() for li in item.css("ul.reasons li")] == change.reasons
        marks = {m.text() for m in quoted.css("mark")}
        assert marks == set(change.highlights)
        link = item.css_first("a")
        assert link is not None
        assert link.attributes["href"] == f"#risk-{change.risk}"
        assert tree.css_first(f"article#risk-{change.risk}") is not None


@needs_corpus
def test_csv_materiality_is_the_risks_highest_listed_score() -> None:
    result = analyse("NVDA", 2025, 2024)
    rows = list(csv.DictReader(io.StringIO(risks_csv(result))))
    for n, row in enumerate(rows):
        mine = [m for m in result.material_changes if m.risk == n]
        assert float(row["materiality"]) == pytest.approx(max((m.score for m in mine), default=0))
        assert int(row["material_changes"]) == len(mine)
        assert row["material_kind"] == (mine[0].kind if mine else "")
    assert any(float(row["materiality"]) > 0 for row in rows)


def _risk_row(status: str, previous: str, current: str, title: str) -> dict[str, object]:
    changes = SentenceAligner([previous, current]).align(previous, current)
    return {
        "status": status,
        "category": "operations",
        "title_current": title,
        "title_previous": title,
        "text_similarity": 1.0 if status == "unchanged" else 0.9,
        "sentiment_current": None,
        "sentiment_previous": None,
        "sentiment_delta": None,
        "drift_score": 0.0 if status == "unchanged" else 0.1,
        "text_current": current,
        "text_previous": previous,
        "changes": changes.model_dump(),
    }


def test_trivial_edits_read_as_this_years_text_until_the_toggle_shows_them() -> None:
    result = AnalysisResult.model_validate(
        {
            "ticker": "TRIV",
            "company": "Trivia Corp",
            "cik": None,
            "years": [2024, 2023],
            "filings": [],
            "similarity": {"cosine": 1, "jaccard": 1, "min_edit": 1, "simple": 1},
            "risks": [
                _risk_row(
                    "modified",
                    "We use third- party vendors. Our costs may rise.",
                    "We use third-party vendors. Our costs rose sharply in 2024.",
                    "Vendors",
                ),
                _risk_row(
                    "unchanged",
                    "F or example, cyber-attacks may occur. We keep backups.",
                    "For example, cyberattacks may occur. We keep backups.",
                    "Attacks",
                ),
            ],
            "heatmap": {"rows": [], "columns": [], "values": []},
            "summary": "",
            "recommendations": [],
        }
    )
    tree = HTMLParser(render_report(result))
    toggle = tree.css_first("#filters input#f-trivial")
    assert toggle is not None
    assert "checked" not in toggle.attributes
    assert "show trivial edits (2)" in _fold(tree.css_first("#filters").text())

    vendors = _article(tree, "Vendors")
    # The real edit is marked outside any trivial span; the trivial one only inside one.
    real = [n for n in vendors.css(".redline ins") if not _in_trivial(n)]
    assert [_fold(n.text()) for n in real] == ["our costs rose sharply in 2024."]
    (span,) = vendors.css(".redline .trivial")
    assert _fold(span.css_first(".trivial-text").text()) == "we use third-party vendors."
    assert [_fold(n.text()) for n in span.css(".trivial-diff del")] == ["third- party"]
    assert [_fold(n.text()) for n in span.css(".trivial-diff ins")] == ["third-party"]
    assert "1 trivial edit (not counted)" in vendors.css_first(".facts").text()

    attacks = _article(tree, "Attacks")
    assert attacks.attributes["data-status"] == "unchanged"
    texts = [_fold(n.css_first(".trivial-text").text()) for n in attacks.css(".trivial")]
    assert texts == ["for example, cyberattacks may occur."]
    # Read without the toggle (trivial diffs hidden), the unchanged risk is this year's text.
    shown = " ".join(
        _fold(n.text()) for n in attacks.css(".redline p") for n in [_without_diffs(n)]
    )
    assert shown == _fold(result.risks[1].text_current or "")


def _in_trivial(node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if "trivial" in (parent.attributes.get("class") or "").split():
            return True
        parent = parent.parent
    return False


def _without_diffs(paragraph: Node) -> Node:
    copy = HTMLParser(paragraph.html or "")
    for node in copy.css(".trivial-diff"):
        node.decompose()
    body = copy.body
    assert body is not None
    return body


def test_redline_marks_trivial_edits_as_such() -> None:
    previous = "We use third- party vendors. Our costs may rise."
    current = "We use third-party vendors. Our costs may rise sharply."
    changes = SentenceAligner([previous, current]).align(previous, current)
    pieces = redline(previous, current, changes)
    assert [(p.kind, p.text) for p in pieces] == [
        ("trivial", "We use third-party vendors."),
        ("edited", "Our costs may rise sharply."),
    ]
