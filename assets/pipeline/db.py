"""A database-like server for the dependencies example: keys and values over TCP,
one command a line (SET key value / GET key), kept in memory."""
import socketserver
import sys
import time

PORT = int(sys.argv[1])
DATA = {}


class Session(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            words = line.decode().split(maxsplit=2)
            if len(words) == 3 and words[0] == "SET":
                DATA[words[1]] = words[2].strip()
                self.wfile.write(b"OK\n")
            elif len(words) == 2 and words[0] == "GET":
                self.wfile.write((DATA.get(words[1], "") + "\n").encode())
            else:
                self.wfile.write(b"ERR\n")


print("db: starting, replaying the journal", flush=True)
time.sleep(1)  # a real database takes a moment before it accepts connections
socketserver.ThreadingTCPServer.allow_reuse_address = True
with socketserver.ThreadingTCPServer(("127.0.0.1", PORT), Session) as server:
    print(f"db: ready to accept connections on {PORT}", flush=True)
    server.serve_forever()
