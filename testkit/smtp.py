"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts, with arrival times, and that
refuses, stalls or answers late on demand: the mail server faults the outbox must survive."""

import asyncio
import email
import re
import threading
import time

from aiosmtpd.controller import Controller

from .processes import free_port

ORDER_EMAIL = re.compile(r"<order-(\d+)-(\w+)\.")  # the Message-ID the shop gives every order email
TEMPLATES = {"confirmation": "confirmation", "shipping": "shipped", "invoice": "invoice"}  # kind -> its template


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        sink = self.sink
        with sink.lock:
            sink.attempts += 1
            sink.attempt_times.append(time.monotonic())
            fail = sink.fail_next > 0
            if fail:
                sink.fail_next -= 1
        if fail:
            return sink.fail_reply
        if sink.mail_delay:
            await asyncio.sleep(sink.mail_delay)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        sink = self.sink
        with sink.lock:
            stall = sink.stall_next > 0 and sink.stall_only in (None, address)
            if stall:
                sink.stall_next -= 1
                sink.stalled_for.append(address)
        if stall:  # mid-conversation: the sender holds its claim and has not handed the message over
            sink.stalled.set()
            while not sink.release.is_set():
                await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        sink = self.sink
        message = email.message_from_bytes(envelope.content)
        with sink.lock:
            sink.messages.append(message)
            sink.arrivals.append(time.monotonic())
            late = sink.reply_delay_next > 0
            if late:
                sink.reply_delay_next -= 1
                sink.late_replied.append(message)
        delay = sink.late_reply if late else sink.reply_delay
        if delay:  # stored; the sender learns it only later (past its timeout: never)
            await asyncio.sleep(delay)
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server, session, envelope):
        if self.sink.quit_delay:
            await asyncio.sleep(self.sink.quit_delay)
        return "221 Bye"


class SmtpSink:
    """Start with `SmtpSink().start()`. Faults, set between tests or while running:

    fail_next (refuse the next N conversations with `fail_reply`), stall_next (hold the next N
    conversations at RCPT until `release` is set; `stalled` tells when one is held, `stalled_for` lists
    whose; stall_only, one recipient's only), mail_delay / quit_delay (answer MAIL or QUIT that many seconds late),
    reply_delay (answer
    every message's final "." late), reply_delay_next + late_reply (only the next N messages; `late_replied`
    lists them).
    """

    def __init__(self):
        self.port = free_port()
        self.lock = threading.Lock()
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.reset()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.release.set()
        self.controller.stop()

    def reset(self):
        with self.lock:
            self.messages, self.arrivals = [], []
            self.attempts, self.attempt_times = 0, []
            self.fail_next, self.fail_reply = 0, "451 4.3.0 Temporary failure, try again later"
            self.stall_next, self.stalled_for, self.stall_only = 0, [], None
            self.mail_delay = self.quit_delay = self.reply_delay = 0.0
            self.reply_delay_next, self.late_reply, self.late_replied = 0, 0.0, []
        self.stalled.clear()
        self.release.clear()

    def received(self, kind="confirmation"):
        """[(order id, arrival)] of every `kind` email received, in arrival order, duplicates kept."""
        with self.lock:
            pairs = list(zip(self.messages, self.arrivals))
        found = []
        for message, arrived in pairs:
            match = ORDER_EMAIL.search(str(message["Message-ID"] or ""))
            if match and match.group(2) == TEMPLATES[kind]:
                found.append((int(match.group(1)), arrived))
        return found

    def order_ids(self, kind="confirmation"):
        return [order_id for order_id, _ in self.received(kind)]

    def messages_of(self, kind, order_id):
        """Every copy of order `order_id`'s `kind` email received (email.message.Message objects)."""
        with self.lock:
            messages = list(self.messages)
        return [
            message
            for message in messages
            if (match := ORDER_EMAIL.search(str(message["Message-ID"] or "")))
            and (int(match.group(1)), match.group(2)) == (order_id, TEMPLATES[kind])
        ]
