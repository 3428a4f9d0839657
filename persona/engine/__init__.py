"""The engine that runs a persona: one input for one customer at a time, atomically.

``runtime`` (load, decide, gate, commit), ``outcome`` (what handling an input did), ``gate``
(caps, quiet hours, platform windows, opt-out), ``upgrade`` (migrating a customer inside a turn),
``census`` (customers per state, kept by the commits), ``scheduler`` (due timers become inputs),
``delivery`` (the outbox to the platforms, exactly once), ``spool`` (what the store has not taken
yet, on local disk), ``bot`` (one persona wired to its store, scheduler, delivery and live
scripts), ``desk`` (human agents working on held customers), ``loop`` (uvloop where there is one).

May import: :mod:`persona.content`, :mod:`persona.wechat`, :mod:`persona.model`,
:mod:`persona.store` and the base modules. Never the service or the tools.
"""
