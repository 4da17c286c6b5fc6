"""One request to the example database (shared by the migration, app and tests)."""
import socket


def ask(port, command):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(command.encode() + b"\n")
        return s.makefile().readline().strip()
