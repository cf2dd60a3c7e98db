"""Telling an e-mail address a message can go to from text that only
looks like one.

Stores pass on what customers typed at checkout, and an order can arrive
through an API with anything in its e-mail field: two addresses, a name
with a space, a line break followed by a ``Bcc:`` header.  Such text must
never reach a mail header, where it either breaks the message or adds
recipients.  :func:`email_problem` says what is wrong with an address, in
words that never repeat it (they end up in logs and on operators' screens).

An address is one mailbox: one ``@``, a dot-atom before it (letters,
digits and ``!#$%&'*+/=?^_`{|}~-``, dots only between them) and a domain
of at least two labels after it.  Letters of any script are accepted on
both sides: an internationalised address (``أحمد@مثال.مصر``) is a real
address, which the mail adapter sends as SMTPUTF8 or with its domain in
IDNA form.  A quoted local part (``"ali baba"@example.com``) is valid on
the wire but never what a customer means at a checkout, so it is only
accepted when asked for (*quoted*), as the SMTP adapter does.
"""

from __future__ import annotations

import string
import unicodedata

__all__ = ["email_problem"]

_LABEL_ASCII = frozenset(string.ascii_letters + string.digits + "-")
_ATEXT = _LABEL_ASCII | frozenset("!#$%&'*+/=?^_`{|}~")
# Line and paragraph separators, controls, bidi and other format
# characters, surrogates: none is ever part of an address.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_MAX_ADDRESS = 254  # octets, RFC 5321 path limit less the angle brackets
_MAX_LOCAL = 64
_MAX_LABEL = 63


def email_problem(address: str, *, quoted: bool = False) -> str | None:
    """Why *address* is not one e-mail address; None when it is.

    *quoted*: accept a quoted local part (``"ali baba"@example.com``), which
    may hold spaces and ``@``.
    """
    if not address:
        return "it is empty"
    invisible = _invisible(address)
    if invisible:
        return invisible
    if quoted and address.startswith('"'):
        local, domain = _split_quoted(address)
        if local is None:
            return "its quoted part is not closed"
        if domain is None:
            return "nothing but an @ may follow its quoted part"
    else:
        if any(c.isspace() for c in address):
            return "it holds a space"
        ats = address.count("@")
        if ats != 1:
            return "it has no @" if ats == 0 else "it has more than one @"
        local, _, domain = address.partition("@")
        local_problem = _dot_atom_problem(local)
        if local_problem:
            return local_problem
    if len(address.encode("utf-8")) > _MAX_ADDRESS:
        return f"it is longer than the {_MAX_ADDRESS} bytes an address may have"
    return _domain_problem(domain)


def _invisible(address: str) -> str | None:
    if "\r" in address or "\n" in address:
        return "it holds a line break"
    for character in address:
        if unicodedata.category(character) in _INVISIBLE:
            return "it holds a control or formatting character"
    return None


def _split_quoted(address: str) -> tuple[str | None, str | None]:
    """The quoted local part and the domain after it; None for a part that
    is missing or malformed."""
    index = 1
    while index < len(address):
        character = address[index]
        if character == "\\":
            index += 2
            continue
        if character == '"':
            local, rest = address[: index + 1], address[index + 1 :]
            return local, rest[1:] if rest.startswith("@") else None
        index += 1
    return None, None


def _dot_atom_problem(local: str) -> str | None:
    if not local:
        return "nothing comes before the @"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "a dot before the @ is misplaced"
    if not all(c in _ATEXT or c == "." or _is_letter(c) for c in local):
        return "before the @ is a character no address has"
    if len(local.encode("utf-8")) > _MAX_LOCAL:
        return f"the part before the @ is longer than {_MAX_LOCAL} bytes"
    return None


def _domain_problem(domain: str) -> str | None:
    if not domain:
        return "nothing comes after the @"
    labels = domain.split(".")
    if len(labels) < 2:
        return "the domain after the @ has no dot"
    for label in labels:
        if not label:
            return "the domain after the @ has an empty part"
        if label.startswith("-") or label.endswith("-"):
            return "a part of the domain starts or ends with a hyphen"
        if not all(c in _LABEL_ASCII or _is_letter(c) for c in label):
            return "the domain holds a character no domain has"
        if len(label) > _MAX_LABEL:
            return f"a part of the domain is longer than {_MAX_LABEL} characters"
    return None


def _is_letter(character: str) -> bool:
    """A letter, mark or digit of a script other than ASCII."""
    return not character.isascii() and unicodedata.category(character)[0] in "LMN"
