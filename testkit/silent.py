"""A server that hangs: it accepts TCP connections and never says a word (a broker, a database...)."""

import socket
import threading


class SilentServer:
    """Accepts TCP connections and never says a word: a broker that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.clients = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(client)

    def close(self):
        self.sock.close()
        for client in self.clients:
            client.close()
