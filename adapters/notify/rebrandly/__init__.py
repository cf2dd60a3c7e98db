"""Rebrandly as a link shortener.

- ``settings``: the API key, workspace and branded domain
  (``RebrandlySettings``);
- ``wire``: request bodies, links and refusals, pure functions;
- ``client``: create and list links, over an injected httpx client;
- ``adapter``: ``RebrandlyLinkShortener``, the port implementation;
- ``plugin``: the hook that registers the ``rebrandly`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.rebrandly``.
"""

from .adapter import RebrandlyLinkShortener
from .client import RebrandlyClient
from .settings import RebrandlySettings

__all__ = ["RebrandlyClient", "RebrandlyLinkShortener", "RebrandlySettings"]
