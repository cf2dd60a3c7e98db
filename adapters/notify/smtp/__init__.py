"""E-mail over SMTP submission, on the standard library.

- ``settings``: the server, TLS mode, login and sender (``SmtpSettings``);
- ``wire``: composing the e-mail and reading SMTP replies, pure functions;
- ``client``: one submission step by step over ``smtplib``;
- ``adapter``: ``SmtpMailSender``, the port implementation;
- ``plugin``: the hook that registers the ``smtp`` factory.

The sandbox's mail sink lives in ``fulfilment.runners.sandbox.mail``.
"""

from .adapter import SmtpMailSender
from .client import SmtpClient
from .settings import SmtpSettings

__all__ = ["SmtpClient", "SmtpMailSender", "SmtpSettings"]
