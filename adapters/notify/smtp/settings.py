"""Settings of the SMTP mail adapter.

``security`` chooses how the connection is protected:

- ``"starttls"`` (default port 587): submission, upgraded with STARTTLS
  before anything else is said (RFC 6409);
- ``"tls"`` (default port 465): implicit TLS from the first byte (RFC 8314,
  which now prefers it);
- ``"plain"`` (default port 25): no TLS at all.  Allowed only towards a
  loopback host (the sandbox mail sink, tests), so neither credentials nor
  customers' messages ever cross a network in clear.

``ca_file`` names the certificate authorities to trust instead of the
system's (a private relay, the tests' throwaway one; a relative path is
read beside the configuration file); ``verify = false``
turns certificate checks off and is meant for nothing but a local relay.
The password arrives from a ``${ENV_VAR}`` reference and is kept out of
``repr``.
"""

from __future__ import annotations

import email.utils

import attrs

from fulfilment.adapters.validators import (
    CONFIG_RELATIVE,
    host_name,
    mail_address,
    positive_seconds,
    readable_file,
    tcp_port,
)

from .._settings import not_blank, optional_not_blank

__all__ = ["LOOPBACK_HOSTS", "SECURITY_MODES", "SmtpSettings"]

SECURITY_MODES = ("starttls", "tls", "plain")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "plain": 25}


_optional = attrs.validators.optional


@attrs.frozen
class SmtpSettings:
    """One SMTP submission server and the sender identity.

    ``sender`` is the ``From`` (``"Shemsi <orders@shemsi.example>"``);
    ``message_id_domain`` the right-hand side of generated Message-IDs
    (default: the sender's domain); ``helo_name`` the name given in EHLO
    (default: this host's fully qualified name).
    """

    host: str = attrs.field(validator=not_blank)
    sender: str = attrs.field(validator=mail_address)
    security: str = attrs.field(
        default="starttls", validator=attrs.validators.in_(SECURITY_MODES)
    )
    port: int | None = attrs.field(default=None, validator=_optional(tcp_port))
    username: str | None = attrs.field(default=None, validator=optional_not_blank)
    password: str | None = attrs.field(default=None, repr=False)
    reply_to: str | None = attrs.field(default=None, validator=_optional(mail_address))
    message_id_domain: str | None = attrs.field(
        default=None, validator=_optional(host_name)
    )
    helo_name: str | None = attrs.field(default=None, validator=_optional(host_name))
    ca_file: str | None = attrs.field(
        default=None,
        validator=_optional(readable_file),
        metadata={CONFIG_RELATIVE: True},
    )
    verify: bool = True
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)

    def __attrs_post_init__(self) -> None:
        if self.security == "plain" and self.host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"plain SMTP is only allowed to a loopback host, not {self.host!r}"
            )
        if self.username and self.password is None:
            raise ValueError("username needs a password")

    @property
    def effective_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.security]

    @property
    def id_domain(self) -> str:
        """The domain of generated Message-IDs."""
        if self.message_id_domain:
            return self.message_id_domain
        return email.utils.parseaddr(self.sender)[1].rpartition("@")[2]
