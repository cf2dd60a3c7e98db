"""NPS survey adapters: personalised links out, completed answers back.

``memory`` holds the in-memory twin of ``SurveySource``; each provider gets
a sub-package of its own.
"""
