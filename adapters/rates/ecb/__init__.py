"""The European Central Bank's euro reference rates.

- ``settings``: where the files are (``EcbSettings``); no credentials;
- ``wire``: the file names and the gesmes envelope, pure functions, the
  only module that knows the ECB's XML;
- ``client``: fetching one file, over an injected httpx client;
- ``adapter``: ``EcbRateSource``, the port implementation;
- ``plugin``: the hook that registers the ``ecb`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.ecb``.
"""

from .adapter import EcbRateSource
from .client import EcbClient
from .settings import EcbSettings

__all__ = ["EcbClient", "EcbRateSource", "EcbSettings"]
