"""py-consul with an ACL token against drover with ACLs on: the token
(policy: read-job in default, key_prefix "team/" write, "" list) reads
the catalog, writes and reads KV under team/, may not read or write
outside it, and a client without a token reads nothing.
Usage: python3 py_consul_acl.py HOST PORT TOKEN."""

import sys

import consul


def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def denied(what, call):
    try:
        call()
    except consul.ACLPermissionDenied:
        return
    except consul.ConsulException as e:
        if "403" in str(e) or "Permission denied" in str(e):
            return
        sys.exit(f"{what}: {e!r}, want a permission denial")
    sys.exit(f"{what}: allowed, want a permission denial")


def main():
    host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    c = consul.Consul(host=host, port=port, token=token)

    _, services = c.catalog.services()
    check("catalog with the token", "web" in services, True)

    check("put under team/", c.kv.put("team/config", "v1"), True)
    _, entry = c.kv.get("team/config")
    check("get under team/", entry["Value"], b"v1")
    denied("get outside team/", lambda: c.kv.get("other/secret"))
    denied("put outside team/", lambda: c.kv.put("other/secret", "x"))
    denied("recursive delete of everything", lambda: c.kv.delete("", recurse=True))
    _, keys = c.kv.get("", keys=True)
    check("list shows what may be listed", keys, ["other/secret", "team/config"])

    anonymous = consul.Consul(host=host, port=port)
    denied("catalog without a token", lambda: anonymous.catalog.services())
    denied("KV without a token", lambda: anonymous.kv.get("team/config"))
    print("py-consul with a token: ok")


main()
