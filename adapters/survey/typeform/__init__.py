"""Typeform as the NPS survey.

- ``settings``: the API host, token, form and its questions
  (``TypeformSettings``);
- ``wire``: the query, the page of responses and the error bodies, pure
  functions, the only module that knows Typeform's JSON;
- ``client``: the one HTTP operation, over an injected httpx client;
- ``adapter``: ``TypeformSurveySource``, the port implementation;
- ``plugin``: the hook that registers the ``typeform`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.typeform``.
"""

from .adapter import TypeformSurveySource
from .client import TypeformClient
from .settings import TypeformSettings

__all__ = ["TypeformClient", "TypeformSettings", "TypeformSurveySource"]
