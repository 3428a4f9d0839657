"""Scripts as live content: published versions, history, rollback, A/B variants and reports.

Writers change what customers read without a deploy; every change is linted first, kept as a
numbered version, and live in every process on the store within seconds.

- :class:`ScriptCatalog` (:func:`open_catalog`): publish, history, rollback, the live list.
- :class:`ScriptPoller`: keeps a running process's scripts on the published versions.
- :class:`ScriptTimeline`: which versions were live at a given time (``persona replay``).
- :func:`script_report`: per variant, who reached a goal, with a confidence interval.
- :func:`persona.content.scripts.sample.sample_customer`: a plausible customer to preview a script for.
"""

from __future__ import annotations

from .catalog import HistoryEntry, ScriptCatalog, ScriptStatus, load_live, open_catalog
from .checking import check_new_text, check_scripts, script_errors
from .live import ScriptPoller, reload_checked, watch_folder
from .report import Goal, ScriptReport, script_report
from .timeline import ScriptTimeline
from .versions import Action, ScriptVersion

__all__ = ["Action", "Goal", "HistoryEntry", "ScriptCatalog", "ScriptPoller", "ScriptReport", "ScriptStatus",
           "ScriptTimeline", "ScriptVersion", "check_new_text", "check_scripts", "load_live", "open_catalog",
           "reload_checked", "script_errors", "script_report", "watch_folder"]
