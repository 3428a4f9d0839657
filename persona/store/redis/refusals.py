"""Redis replies that refuse a command for Redis' own state, not for the command.

A full Redis (``maxmemory`` with ``noeviction``), a replica that is read-only after a failover,
a server refusing writes after a failed snapshot, one still loading its data or busy running a
script: none of these is a bug, and each passes. The store turns them into
:class:`~persona.errors.StoreUnavailable`, so a callback answers 503 (WeChat retries it), one
log line says why, and nothing is lost. Any other error reply is a bug and stays one.
"""

from __future__ import annotations

import re

from redis.exceptions import (ClusterDownError, MasterDownError, OutOfMemoryError, ReadOnlyError, ResponseError,
                              TryAgainError)

#: The error code Redis puts first in such a reply → what it means for someone on call.
STATE_REFUSALS = {
    "OOM": "full (maxmemory reached under a noeviction policy): free memory or raise maxmemory",
    "READONLY": "a read-only replica (after a failover, point the store URL at the new primary)",
    "MISCONF": "refusing writes since its last snapshot failed (see Redis' log)",
    "LOADING": "loading its data set",
    "BUSY": "busy running a script",
    "MASTERDOWN": "a replica whose primary is down",
    "CLUSTERDOWN": "a cluster that is down",
    "TRYAGAIN": "moving the slot: try again",
    "NOREPLICAS": "short of the replicas min-replicas-to-write asks for",
}

#: redis-py raises these for a reply opening with the code, and strips the code off
#: (MasterDownError is a ClusterDownError: it comes first)
_CLASSES: tuple[tuple[type[ResponseError], str], ...] = (
    (OutOfMemoryError, "OOM"), (ReadOnlyError, "READONLY"), (TryAgainError, "TRYAGAIN"),
    (MasterDownError, "MASTERDOWN"), (ClusterDownError, "CLUSTERDOWN"))
# otherwise the code opens the reply, or follows a script's own error prefix
_CODE = re.compile(r"(?:^|\s|: )(" + "|".join(STATE_REFUSALS) + r")\b")


def refusal(exc: ResponseError) -> str | None:
    """What state a reply says Redis is in (for the log and ``/healthz``), or None for any
    other error."""
    first = (str(exc).splitlines() or [""])[0][:160]
    code = next((c for cls, c in _CLASSES if isinstance(exc, cls)), None)
    if code is not None:  # redis-py took the code off the reply: put it back for the reader
        return f"Redis is {STATE_REFUSALS[code]} ({code} {first})".replace(" )", ")")
    found = _CODE.search(str(exc))
    if found is None:
        return None
    return f"Redis is {STATE_REFUSALS[found.group(1)]} ({first})"
