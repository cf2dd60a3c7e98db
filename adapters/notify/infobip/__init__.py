"""Infobip SMS as an SMS sender that can be asked about a message.

- ``settings``: the account host, API key and sender IDs
  (``InfobipSettings``);
- ``wire``: request bodies, message statuses and request errors, pure
  functions;
- ``client``: send and logs, over an injected httpx client;
- ``adapter``: ``InfobipSmsSender``, the port implementation with
  ``find_sent``;
- ``plugin``: the hook that registers the ``infobip`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.infobip``.
"""

from .adapter import InfobipSmsSender
from .client import InfobipClient
from .settings import InfobipSettings

__all__ = ["InfobipClient", "InfobipSettings", "InfobipSmsSender"]
