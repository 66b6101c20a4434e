"""py-consul against drover's Consul-compatible API: the catalog the
Rust test set up (see consul_clients.rs), then KV put/get/cas/delete.
Usage: python3 py_consul.py HOST PORT. Exits non-zero on the first
mismatch, printing what was seen."""

import sys

import consul


def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def main():
    c = consul.Consul(host=sys.argv[1], port=int(sys.argv[2]))

    index, services = c.catalog.services()
    check("catalog.services index is positive", int(index) > 0, True)
    check("web tags", sorted(services.get("web", [])), ["http", "v2"])

    _, nodes = c.health.service("web")
    check("all web instances", sorted(n["Service"]["ID"] for n in nodes),
          ["web-1", "web-2", "web-3", "web-4"])
    _, nodes = c.health.service("web", passing=True)
    check("passing web instances", sorted(n["Service"]["ID"] for n in nodes),
          ["web-1", "web-4"])
    check("node names", sorted(n["Node"]["Node"] for n in nodes), ["alpha", "gamma"])
    _, nodes = c.health.service("web", tag="v2")
    check("tagged", [n["Service"]["Port"] for n in nodes], [8001])
    _, nodes = c.catalog.service("db")
    check("catalog.service", [(n["ServiceID"], n["Node"]) for n in nodes], [("db-1", "alpha")])
    _, checks = c.health.state("critical")
    check("critical checks", [(x["Node"], x["CheckID"]) for x in checks], [("beta", "serfHealth")])
    check("agent datacenter", c.agent.self()["Config"]["Datacenter"], "dc1")

    # Blocking: nothing changes within 1s, the index comes back unchanged.
    again, _ = c.catalog.services(index=index, wait="1s")
    check("blocking index", again, index)

    check("put", c.kv.put("py/config", "hello", flags=7), True)
    kv_index, entry = c.kv.get("py/config")
    check("get value", entry["Value"], b"hello")
    check("get flags", entry["Flags"], 7)
    modify = entry["ModifyIndex"]
    check("cas=0 on an existing key", c.kv.put("py/config", "x", cas=0), False)
    check("stale cas", c.kv.put("py/config", "x", cas=modify + 1000), False)
    check("cas", c.kv.put("py/config", "world", cas=modify), True)
    _, entry = c.kv.get("py/config")
    check("after cas", entry["Value"], b"world")
    c.kv.put("py/other", "1")
    _, entries = c.kv.get("py/", recurse=True)
    check("recurse", [e["Key"] for e in entries], ["py/config", "py/other"])
    _, keys = c.kv.get("", keys=True, separator="/")
    check("keys", keys, ["py/"])
    check("delete cas stale", c.kv.delete("py/config", cas=modify), False)
    check("delete", c.kv.delete("py/config"), True)
    _, entry = c.kv.get("py/config")
    check("deleted", entry, None)
    check("delete recurse", c.kv.delete("py/", recurse=True), True)
    _, entries = c.kv.get("py/", recurse=True)
    check("all gone", entries, None)
    print("py-consul: ok")


main()
