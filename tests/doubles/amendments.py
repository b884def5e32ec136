"""Synthetic amended 10-Ks (10-K/A) for the filing watch's tests, written for them.

:func:`restated_10ka` is a full amendment: its cover says ``10-K/A`` and it restates
Item 1A (the risks given, each a bold-italic heading over its paragraph, as filers set
them). :func:`part_iii_10ka` is the common kind: Part III alone (Items 10-14), with no
Item 1A, as most amendments are filed to add the proxy information late.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_SPAN = "<span style=\"font-family:'Times New Roman',serif;font-size:10pt;font-weight:{w}{s}\">"


def _line(text: str, *, bold: bool = False, italic: bool = False, gap: int = 9) -> str:
    style = ";font-style:italic" if italic else ""
    span = _SPAN.format(w=700 if bold else 400, s=style)
    return f'<div style="margin-top:{gap}pt">{span}{escape(text)}</span></div>\n'


def _cover(company: str, year: int, tagged: bool) -> str:
    form = (
        '<ix:nonNumeric name="dei:DocumentType" contextRef="c-1">10-K/A</ix:nonNumeric>'
        if tagged
        else "10-K/A"
    )
    hidden = (
        '<div style="display:none"><ix:header><ix:hidden>'
        '<ix:nonNumeric name="dei:DocumentType" contextRef="c-1">10-K/A</ix:nonNumeric>'
        '<ix:nonNumeric name="dei:DocumentFiscalYearFocus" contextRef="c-1">'
        f"{year}</ix:nonNumeric>"
        "</ix:hidden></ix:header></div>\n"
        if tagged
        else ""
    )
    return (
        '<html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"><body>\n'
        f"{hidden}"
        f'<div style="text-align:center">{_SPAN.format(w=700, s="")}FORM {form}</span></div>\n'
        f"{_line(f'(Amendment No. 1) for the fiscal year ended December 31, {year}')}"
        f"{_line(company, bold=True)}"
    )


def restated_10ka(
    company: str, year: int, risks: Sequence[tuple[str, str]], *, tagged: bool = True
) -> bytes:
    """A 10-K/A restating the whole of Item 1A with ``risks`` (heading, paragraph)."""
    parts = [_cover(company, year, tagged)]
    parts.append(
        _line(
            "EXPLANATORY NOTE: this Amendment No. 1 restates the Annual Report on Form 10-K "
            "in its entirety, including Part I, Item 1A. Risk Factors, as amended below."
        )
    )
    parts.append(_line("PART I", bold=True, gap=18))
    parts.append(_line("Item 1. Business", bold=True, gap=12))
    parts.append(_line(f"{company} is a fictional company invented for this test."))
    parts.append(_line("Item 1A. Risk Factors", bold=True, gap=12))
    for heading, body in risks:
        parts.append(_line(heading, bold=True, italic=True))
        parts.append(_line(body))
    parts.append(_line("Item 1B. Unresolved Staff Comments", bold=True, gap=12))
    parts.append(_line("None."))
    parts.append(_line("Item 2. Properties", bold=True, gap=12))
    parts.append(_line("We lease our headquarters."))
    parts.append("</body></html>\n")
    return "".join(parts).encode()


def part_iii_10ka(company: str, year: int, *, tagged: bool = True) -> bytes:
    """A Part III-only 10-K/A: no Item 1A (the amendment replaces no risk factors)."""
    parts = [_cover(company, year, tagged)]
    parts.append(
        _line(
            "EXPLANATORY NOTE: this Amendment No. 1 amends the Annual Report on Form 10-K "
            "only to include the information required by Part III, which was to be "
            "incorporated by reference from our definitive proxy statement. No other item "
            "of the original report, including its financial statements and risk factors, "
            "is amended."
        )
    )
    parts.append(_line("PART III", bold=True, gap=18))
    for item in (
        "Item 10. Directors, Executive Officers and Corporate Governance",
        "Item 11. Executive Compensation",
        "Item 12. Security Ownership of Certain Beneficial Owners and Management",
        "Item 13. Certain Relationships and Related Transactions, and Director Independence",
        "Item 14. Principal Accountant Fees and Services",
    ):
        parts.append(_line(item, bold=True, gap=12))
        parts.append(_line("The information for this item is set forth below for the test."))
    parts.append(_line("PART IV", bold=True, gap=18))
    parts.append(_line("Item 15. Exhibits and Financial Statement Schedules", bold=True))
    parts.append("</body></html>\n")
    return "".join(parts).encode()


_SUBJECTS = (
    "the supply of battery cells from our contract manufacturers",
    "the approval of our driver assistance features by vehicle safety regulators",
    "demand for stationary energy storage from electric utilities",
    "the prices of lithium, nickel and cobalt under our long-term contracts",
    "the ramp of production at our newest assembly plant",
    "warranty claims on the drive units of vehicles already delivered",
    "the availability of public charging in the markets we enter",
    "changes to the tax credits that buyers of our vehicles receive",
    "the retention of the engineers who design our software",
    "the protection of the personal data our vehicles collect",
    "the financing our customers use to lease or buy our products",
    "the export controls that apply to the semiconductors we buy",
    "the insurance products we underwrite for our own customers",
    "litigation brought by shareholders over statements of our executives",
)
_CONSEQUENCES = (
    "A shortfall or delay here could force us to slow production, defer deliveries that "
    "customers have already paid deposits for, and report lower revenue than we forecast.",
    "Adverse changes could raise our costs faster than we can raise our prices, reduce our "
    "gross margin, and require us to record charges against inventory we already hold.",
    "If we misjudge it, we could be subject to investigations, fines and orders to change "
    "our products, and the publicity could harm our brand with prospective customers.",
    "Because we have limited experience with it, our estimates may prove wrong, and the "
    "resulting losses could be material to our results of operations and cash flows.",
)


def many_risks(count: int) -> list[tuple[str, str]]:
    """``count`` distinct synthetic risk factors (heading, paragraph), for an amendment
    whose Item 1A must be about as long as a large filer's original."""
    risks = []
    for n in range(count):
        subject = _SUBJECTS[n % len(_SUBJECTS)]
        consequence = _CONSEQUENCES[(n // len(_SUBJECTS)) % len(_CONSEQUENCES)]
        heading = f"Our business depends on {subject}, which we do not fully control."
        body = (
            f"Our results depend on {subject}. {consequence} We describe the measures we "
            f"take in the amended discussion of {subject} below, but they may not succeed, "
            "and investors should not rely on them to limit the effect of this risk."
        )
        risks.append((heading, body))
    return risks
