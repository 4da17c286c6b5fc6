"""The app: an HTTP server that answers /health and / (the schema version it
reads from the example database)."""
import http.server
import json
import sys

from db_client import ask

DB_PORT, PORT = int(sys.argv[1]), int(sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok"
        else:
            body = json.dumps({"schema_version": ask(DB_PORT, "GET schema_version")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print("app: " + format % args, flush=True)


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"app: listening on :{PORT}", flush=True)
server.serve_forever()
