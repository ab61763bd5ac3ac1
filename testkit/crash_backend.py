"""An email backend for fault tests: sending to a crash+...@ address kills the process sending it (as an OOM
kill or a crash in a C library would); other messages go to the backend named by CRASH_DELEGATE_BACKEND."""

import os
import signal

from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend


class CrashingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            if any(address.startswith("crash+") for address in message.to):
                os.kill(os.getpid(), signal.SIGKILL)
        delegate = get_connection(os.environ["CRASH_DELEGATE_BACKEND"], fail_silently=self.fail_silently)
        return delegate.send_messages(email_messages)
