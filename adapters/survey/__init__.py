"""NPS survey adapters: personalised survey links out, answers back.

- ``typeform``: the Typeform Responses API (``SurveySource``), split like
  every HTTP adapter (``settings``, ``wire``, ``client``, ``adapter``,
  ``plugin``);
- ``memory``: the in-memory twin, for tests and dry runs;
- ``links``: the hidden fields a survey link carries, written once;
- ``plugin``: registers the twin as the ``memory`` survey.
"""

from .links import hidden_fragment, hidden_of_link

__all__ = ["hidden_fragment", "hidden_of_link"]
