"""The filing watch (issue 24): watched companies' new 10-Ks analysed as they are published.

:mod:`.listing` lists a company's annual reports from the configured source;
:mod:`.scheduler` is the arq cron job that polls them and starts the analyses.
The watchlists themselves live in :mod:`riskdrift.store.watchlists` and
:mod:`riskdrift.api.routes_watchlists`.
"""
