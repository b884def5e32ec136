"""arq job serialisation as JSON instead of arq's default pickle.

JSON keeps queue entries readable by any tool and unpicklable by nobody: a
queue entry can never execute code when it is loaded.
"""

from __future__ import annotations

import json
from typing import Any


def dumps(obj: Any) -> bytes:
    """Serialise an arq job or result; exceptions in results become their ``repr``."""
    return json.dumps(obj, default=repr, separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    """Inverse of :func:`dumps`."""
    return json.loads(data)
