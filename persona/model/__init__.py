"""The bot author's model: what a persona is, and what a turn may do.

``persona`` (the :class:`Persona` class: states, one shared machine, policy), ``handlers`` (routes
and the ``@on`` decorators), ``moves`` (plain transitions compiled to a lookup), ``timers`` (timer
declarations, and arming them after a turn), ``turn`` (what a handler sees and collects: no I/O),
``handoff`` (holding a customer for a person), ``migrations`` (a live bot's declared past),
``forms``, ``formfields`` and ``formlinks`` (信息采集: forms, their questions, signed links to them),
``customer``, ``inputs``, ``messages``, ``payloads`` (the data a turn reads and writes), and the
script rendering a turn speaks through (``templates``, ``filters``, ``variants``).

May import: the store roles (:mod:`persona.store`, for types), ``errors``, ``clock``, ``metrics``,
``jsonwire``. Nothing here runs a loop, opens a store or talks to a platform.
"""
