"""The SMTP backend tells "the server may have the message" (its answer to the final "." never came) from a
failure before it, however the backend is driven: opened by Sending, or by Django's own send_messages (as
send_mail and a wrapping backend do), one message or several."""

import pytest
from django.core.mail import EmailMessage

from orders.mail import OutcomeUnknown, SMTPBackend


@pytest.fixture
def server(smtp_sink, settings):
    smtp_sink.reset()
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", smtp_sink.port, 1
    return smtp_sink


def message(to="ada@example.com"):
    return EmailMessage("Your order", "Thank you.", "shop@example.com", [to])


def test_a_lost_answer_after_the_body_is_an_unknown_outcome_when_send_messages_opens_the_connection(server):
    server.late_reply, server.reply_delay_next = 3, 1  # stored; its "250" comes after the sender's timeout
    with pytest.raises(OutcomeUnknown):
        SMTPBackend().send_messages([message()])  # no open() first: Django's send_messages opens and closes
    assert len(server.messages) == 1


def test_a_lost_answer_after_the_body_is_an_unknown_outcome_on_an_opened_connection(server):
    backend = SMTPBackend()
    backend.open()
    server.late_reply, server.reply_delay_next = 3, 1
    with pytest.raises(OutcomeUnknown):
        backend.send_messages([message()])
    backend.abort()


def test_a_failure_before_the_body_of_a_second_message_is_not_an_unknown_outcome(server):
    from django.core.mail import BadHeaderError

    backend = SMTPBackend()
    broken = EmailMessage("Your order\nBcc: everyone@example.com", "x", "shop@example.com", ["bob@example.com"])
    with pytest.raises(BadHeaderError):  # the first message went out and was answered: that is over
        backend.send_messages([message(), broken])
    assert len(server.messages) == 1
