"""The terminal side of riskdrift: the CLI's HTTP client of a running API.

- :mod:`.api`: :func:`~.api.connect` and the one-line errors every command shares;
- :mod:`.follow`: a job's (and a batch's) SSE stream, resumed with ``Last-Event-ID``;
- :mod:`.jobs`, :mod:`.batches`, :mod:`.watchlists`: the ``riskdrift jobs|batch|history|
  watchlist`` commands' calls and their pure text renderings.
"""
