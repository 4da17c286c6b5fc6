"""The migration: brings the example database to schema 3, then exits 0."""
import sys

from db_client import ask

PORT = int(sys.argv[1])
for version in (1, 2, 3):
    if ask(PORT, f"SET schema_version {version}") != "OK":
        sys.exit(f"migrate: the database refused version {version}")
    print(f"migrate: applied migration {version}", flush=True)
print("migrate: schema is at version 3", flush=True)
