"""Twilio Programmable Messaging as an SMS sender.

- ``settings``: the account and sender IDs (``TwilioSettings``);
- ``wire``: the form fields, the receipt and the error codes, pure functions;
- ``client``: the one HTTP operation, over an injected httpx client;
- ``adapter``: ``TwilioSmsSender``, the port implementation;
- ``plugin``: the hook that registers the ``twilio`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.twilio``.
"""

from .adapter import TwilioSmsSender
from .client import TwilioClient
from .settings import TwilioSettings

__all__ = ["TwilioClient", "TwilioSettings", "TwilioSmsSender"]
