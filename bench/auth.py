#!/usr/bin/env python3
"""What Keystone costs a request: token validation in Keystone itself (memcached as its
cache), and API requests in the keystone profile (auth_token with its token cache, Heat
reached as the service user) against the no-auth profile in the same run.

    .venv/bin/python bench/auth.py [--repeat 50]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from bench.common import median_ms  # noqa: E402
from tests.harness import Stack  # noqa: E402
from tests.keystone import Keystone  # noqa: E402


def ok(response):
    response.raise_for_status()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    repeat = args.repeat

    keystone, stacks = Keystone(), []
    try:
        started = time.monotonic()
        keystone.up()
        print(f"Keystone up (memcached, db_sync, fernet, bootstrap, users) in {time.monotonic() - started:.1f} s")
        config_file = keystone.dir / "dbaas-api.conf"
        config_file.write_text(keystone.dbaas_conf())
        noauth, secured = Stack(), Stack(auth_strategy="keystone", config_file=config_file)
        stacks = [noauth, secured]
        for stack in stacks:
            stack.up()

        service_token, alice_token = keystone.token("dbaas"), keystone.token("alice")
        alpha = keystone.project_ids["alpha"]
        session = requests.Session()
        rows = [("Keystone: issue a token (password, bcrypt 4 rounds)",
                 median_ms(lambda: keystone.token("alice"), max(5, repeat // 5))),
                ("Keystone: validate a token (GET /v3/auth/tokens)",
                 median_ms(lambda: ok(session.get(f"{keystone.url}/auth/tokens", headers={
                     "X-Auth-Token": service_token, "X-Subject-Token": alice_token})), repeat))]
        for path in ("/flavors", "/instances"):
            rows.append((f"API no-auth: GET {path}",
                         median_ms(lambda: ok(session.get(f"{noauth.url}/v1.0/{alpha}{path}")), repeat)))
            rows.append((f"API keystone, cached token: GET {path}",
                         median_ms(lambda: ok(session.get(f"{secured.url}/v1.0/{alpha}{path}",
                                                          headers={"X-Auth-Token": alice_token})), repeat)))
        fresh = [keystone.token("alice") for _ in range(max(5, repeat // 5))]
        rows.append(("API keystone, new token each time: GET /flavors",
                     median_ms(lambda: ok(session.get(f"{secured.url}/v1.0/{alpha}/flavors",
                                                      headers={"X-Auth-Token": fresh.pop()})), len(fresh))))
        print(f"{'request':<58}{'median ms':>10}")
        for name, value in rows:
            print(f"{name:<58}{value:>10.1f}")
    finally:
        for stack in stacks:
            stack.destroy()
        keystone.down()


if __name__ == "__main__":
    main()
