"""The studio: a web application for the people who run a bot day to day, on the bot's store.

Writers edit and publish scripts, agents read customers' timelines, admins manage accounts,
opt-outs and dead letters. Pages are rendered on the server (Jinja2) in Chinese, with a little
vanilla JavaScript; every asset is vendored, so it works without internet access.

Modules: :mod:`.app` (the aiohttp application), :mod:`.security` (sessions, CSRF, roles on every
request), :mod:`.accounts`, :mod:`.passwords`, :mod:`.sessions`, :mod:`.audit`, :mod:`.roles`,
:mod:`.masking`, :mod:`.timeline`, :mod:`.funnel`, :mod:`.samples` (who a preview is for),
:mod:`.preview` (a draft rendered and linted), :mod:`.where` (where a script is said), and one
module per page in :mod:`.pages`.

A tool: may import the service and every room below it; nothing below imports the studio.
"""

from .app import create_app

__all__ = ["create_app"]
