"""The app's tests: it answers, and it sees the migrated schema."""
import json
import sys
import urllib.request

PORT = int(sys.argv[1])


def get(path):
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=5) as r:
        return r.status, r.read()


status, _ = get("/health")
assert status == 200, f"/health answered {status}"
print("tests: health ... ok", flush=True)
_, body = get("/")
version = json.loads(body)["schema_version"]
assert version == "3", f"schema version {version!r}, expected '3'"
print("tests: schema ... ok", flush=True)
print("tests: 2 passed", flush=True)
