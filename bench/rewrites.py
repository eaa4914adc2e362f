"""D1: DATA_DIR after rewrites of one client at the size cap. Builds a client of about 1 MiB
(users with long instructions), then changes one field N times; then deletes it, builds a
second one as large and rewrites it N times too. Prints the users of the client, DATA_DIR in
MiB after the first client's rewrites and after the second's (equal when the space of the
deleted client is used again), and how many blob files sled keeps.
Usage: rewrites.py BASE_URL DATA_DIR N"""

import http.client
import json
import os
import sys
import urllib.parse

base, data_dir, rewrites = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
HEADERS = {"Authorization": "Bearer secure-api-key", "Content-Type": "application/json"}


def call(method, path, body):
    conn.request(method, path, json.dumps(body), HEADERS)
    response = conn.getresponse()
    text = response.read()
    if response.status >= 300:
        sys.exit(f"{method} {path}: {response.status} {text[:300]!r}")
    return response.status


def size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def at_the_cap_and_rewritten(client_id):
    """Users are added until the cap refuses one; then N one-field changes."""
    call("PUT", "/clients", {"client_id": client_id, "info": {"Name": "Stor kunde"}})
    users = 0
    while True:
        user = {"UserNo": users + 1 + (users >= 198), "User_Name": f"Bruker {users}", "Instructions": "x" * 3900}
        conn.request("POST", "/clients/users", json.dumps({"client_id": client_id, "user": user}), HEADERS)
        response = conn.getresponse()
        response.read()
        if response.status == 413:
            break
        if response.status != 201:
            sys.exit(f"POST user: {response.status}")
        users += 1
    for i in range(rewrites):
        call("PATCH", "/clients", {"client_id": client_id, "info": {"Alias": f"rewrite {i}"}})
    return users


users = at_the_cap_and_rewritten(1)
first = size(data_dir)
call("DELETE", "/clients", {"client_id": 1})
at_the_cap_and_rewritten(2)
second = size(data_dir)
blobs = sum(len(files) for root, _, files in os.walk(os.path.join(data_dir, "blobs")))
print(f"{users} {first / 2**20:.0f} {second / 2**20:.0f} {blobs}")
