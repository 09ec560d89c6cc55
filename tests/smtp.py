"""A minimal SMTP server on loopback, in a thread of the test process: it keeps
each message it receives (tests read the links that were mailed)."""

import socket
import threading


class TinySmtpServer:
    """Just enough SMTP on 127.0.0.1 to receive one message (no TLS, no AUTH)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.messages: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rb") as lines:
            def say(text):
                conn.sendall(text.encode() + b"\r\n")

            say("220 tiny")
            data = None
            for raw in lines:
                if data is not None:
                    if raw == b".\r\n":
                        self.messages.append(b"".join(data))
                        data = None
                        say("250 queued")
                    else:
                        data.append(raw[1:] if raw.startswith(b"..") else raw)
                elif raw[:4].upper() == b"DATA":
                    data = []
                    say("354 go ahead")
                elif raw[:4].upper() == b"QUIT":
                    say("221 bye")
                    break
                else:
                    say("250 ok")

    def close(self):
        self.sock.close()
        self.thread.join(timeout=5)
