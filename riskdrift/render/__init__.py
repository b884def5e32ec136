"""Pure renderers of a result: no I/O, model in, text out.

- :mod:`.terminal`: the terminal report (drawn onto a rich ``Console`` the caller owns);
- :mod:`.html`: the self-contained HTML report (its Jinja template in ``templates/``);
- :mod:`.risks_csv`: the risks table as CSV;
- :mod:`.charts`: the heatmap and history SVGs;
- :mod:`.ranking`: a universe ranking as an HTML page.

Whoever wants a file (the CLI) writes the text these return.
"""
