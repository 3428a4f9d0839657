"""What writers own, checked: scripts' lint, live script versions, the FAQ knowledge.

``lint`` (every check ``persona lint`` runs), ``scripts`` (published versions, the lint gate a
version passes, the poller that keeps a process on them, the A/B report), ``knowledge`` (faq.yaml
and knowledge/*.md, and the suggested replies drawn from them). Rendering itself is the model's
(:mod:`persona.model.templates`): a turn speaks through it.

May import: :mod:`persona.model`, :mod:`persona.store` and the base modules.
"""
