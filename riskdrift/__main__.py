"""``python -m riskdrift`` is the ``riskdrift`` command."""

from riskdrift.cli import main

raise SystemExit(main())
