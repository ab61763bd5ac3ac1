"""Sending one email, and telling what a failure means: retry it, give up, or "it may have gone out".

An SMTP conversation has a point of no return: the "." that ends the message body. An error before it
(connecting, MAIL, RCPT, DATA, the body itself) means the server has not taken the message, so trying again is
safe. A timeout or a dropped connection while waiting for the answer to that "." means the server may well
have stored it: sending again would send a second copy, so the outcome is reported as unknown.
`SMTPBackend` is Django's SMTP backend that tells the two apart; use it for real mail.
"""

import logging
import smtplib

from django.core.mail import BadHeaderError, get_connection
from django.core.mail.backends.smtp import EmailBackend

logger = logging.getLogger(__name__)

END_OF_DATA = b"\r\n.\r\n"
QUIT_TIMEOUT = 5  # seconds: the message is already handled when QUIT is sent; never wait long for its answer


class OutcomeUnknown(Exception):
    """The mail server was handed the whole message and its answer never came: it may have been delivered."""


class _TracksBody:
    """Mixin for smtplib.SMTP: whether a message body has been handed to the server and its answer is awaited."""

    body_handed_over = False

    def send(self, s):
        super().send(s)
        # smtplib sends the body and its terminating "." in one call; a "." line inside a body is doubled.
        if isinstance(s, bytes) and s.endswith(END_OF_DATA):
            self.body_handed_over = True

    def data(self, msg):
        answer = super().data(msg)
        self.body_handed_over = False  # answered: this message's fate is known, whatever comes next
        return answer


class _SMTP(_TracksBody, smtplib.SMTP):
    pass


class _SMTP_SSL(_TracksBody, smtplib.SMTP_SSL):
    pass


class SMTPBackend(EmailBackend):
    """Django's SMTP backend, raising OutcomeUnknown when the server may have taken a message it never
    acknowledged, and never waiting long (or failing) on QUIT."""

    _conversation = None  # the smtplib connection of the current or last send

    @property
    def connection_class(self):
        return _SMTP_SSL if self.use_ssl else _SMTP

    def open(self):
        opened = super().open()
        # Kept after close(): send_messages closes a connection it opened before its error reaches us.
        self._conversation = self.connection
        return opened

    def send_messages(self, email_messages):
        self._conversation = self.connection
        try:
            return super().send_messages(email_messages)
        except smtplib.SMTPResponseException:
            raise  # the server answered: it did not take the message (or refused it for good)
        except Exception as error:
            if getattr(self._conversation, "body_handed_over", False):
                raise OutcomeUnknown(f"{type(error).__name__} after the message body was sent: {error}") from error
            raise

    def close(self):
        connection = self.connection
        if connection is not None and connection.sock is not None:
            connection.sock.settimeout(min(QUIT_TIMEOUT, self.timeout or QUIT_TIMEOUT))
        try:
            super().close()
        except Exception:  # the message's fate is already known: a slow or broken goodbye changes nothing
            if connection is not None:
                connection.close()

    def abort(self):
        """Drop the connection without a goodbye: after an error, the server may never answer one."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def is_permanent(error):
    """True when trying again would meet the same answer: a refusal for good (5xx), or a message that
    cannot be built (a header Django refuses)."""
    if isinstance(error, BadHeaderError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


class Sending:
    """One message on its own connection: `send()` then, whatever happened, `close()`.

    Recording the outcome between the two (not after closing) keeps a slow goodbye from ever turning a
    delivered email into a failure; after a failure the connection is dropped without one.
    """

    def __init__(self, message):
        self.message = message
        self.connection = get_connection(fail_silently=False)
        self.failed = False

    def send(self):
        try:
            self.connection.open()
            self.connection.send_messages([self.message])
        except BaseException:
            self.failed = True
            raise

    def close(self):
        try:
            if self.failed and hasattr(self.connection, "abort"):
                self.connection.abort()
            else:
                self.connection.close()
        except Exception:  # noqa: BLE001  (the message was already handled either way)
            logger.info("closing the mail connection failed; the message was already handled")
