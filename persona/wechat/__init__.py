"""The WeChat and WeCom side: what crosses the wire to and from the platforms.

``protocol`` (callbacks in, passive replies out: wechatpy's crypto, defusedxml), ``channels`` (the
send APIs, access tokens, media), ``fake`` (a local stand-in for both platforms' HTTP APIs, which
tests, ``persona chat`` and ``persona fakeapi`` talk to).

May import: :mod:`persona.model` (inputs, messages), :mod:`persona.store` (the key-value role,
for tokens and media) and the base modules.
"""
