#!/usr/bin/env bash
# Installs what building and testing drover needs, when it is missing:
# protoc and the well-known protos (Debian's protobuf-compiler and
# libprotobuf-dev, for etcd-client), etcd and etcdctl
# (etcd-server, etcd-client), and openssl and python3 for the test harness;
# with --with-docker-tools also busybox-static for the Docker tests' image,
# and the real clients the catalog tests talk to drover with: dig (Debian's
# bind9-dnsutils), Prometheus and promtool (prometheus), VictoriaMetrics
# (victoria-metrics: Debian's Prometheus lacks Consul SD), py-consul,
# openapi-spec-validator and jsonschema (PyPI); and headless Chromium with
# its WebDriver (chromium, chromium-driver) and selenium (PyPI) for the web
# UI's browser tests.
# Installs through apt only when running as root; otherwise says what to install.
set -euo pipefail

missing_pkgs=()
command -v protoc >/dev/null 2>&1 || missing_pkgs+=(protobuf-compiler)
# etcd-client's protos import google/protobuf/*.proto, which ship in
# libprotobuf-dev (only a recommendation of protobuf-compiler).
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing_pkgs+=(libprotobuf-dev)
command -v etcd >/dev/null 2>&1 || missing_pkgs+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing_pkgs+=(etcd-client)
# The TLS store tests make a throwaway CA and certificates with openssl.
command -v openssl >/dev/null 2>&1 || missing_pkgs+=(openssl)
command -v python3 >/dev/null 2>&1 || missing_pkgs+=(python3)
# With --with-docker-tools: the Docker tests `docker import` an image made of
# a statically linked /bin/busybox (Debian's busybox-static; the plain busybox
# package is dynamically linked and would not run in an empty rootfs).
if [ "${1:-}" = "--with-docker-tools" ]; then
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' \
      || missing_pkgs+=(busybox-static)
  else
    [ -x /bin/busybox ] || missing_pkgs+=(busybox-static)
  fi
  command -v dig >/dev/null 2>&1 || missing_pkgs+=(bind9-dnsutils)
  command -v prometheus >/dev/null 2>&1 || missing_pkgs+=(prometheus)
  # Debian builds Prometheus without Consul SD; VictoriaMetrics scrapes
  # with the same consul_sd_configs, so the catalog tests run it too.
  command -v victoria-metrics >/dev/null 2>&1 || missing_pkgs+=(victoria-metrics)
  # The web UI's tests click through it in headless Chromium over WebDriver.
  command -v chromium >/dev/null 2>&1 || missing_pkgs+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing_pkgs+=(chromium-driver)
  want_py_consul=1
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; drover needs a Rust toolchain (https://rustup.rs)." >&2
  exit 1
fi

# The Python clients the tests drive drover with: py-consul (the catalog and
# KV tests), openapi-spec-validator and jsonschema (the OpenAPI document and
# real answers checked against it), selenium (the web UI's browser tests).
ensure_py_consul() {
  [ "${want_py_consul:-0}" = 1 ] || return 0
  python3 -c 'import consul, openapi_spec_validator, jsonschema, selenium' >/dev/null 2>&1 && return 0
  echo "installing py-consul, openapi-spec-validator, jsonschema and selenium from PyPI..."
  if ! python3 -m pip install -q py-consul openapi-spec-validator jsonschema selenium; then
    echo "error: could not install the Python test clients" \
      "(python3 -m pip install py-consul openapi-spec-validator jsonschema selenium)" >&2
    exit 1
  fi
}

if [ ${#missing_pkgs[@]} -eq 0 ]; then
  ensure_py_consul
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing_pkgs[*]} from Debian's packages..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
  # The etcd-server and prometheus packages may try to start system
  # services; drover's tests start their own on free ports.
  ensure_py_consul
  exit 0
fi

echo "error: missing: ${missing_pkgs[*]}" >&2
echo "install them with: sudo apt-get install ${missing_pkgs[*]}" >&2
echo "(or put protoc and etcd on PATH some other way)" >&2
exit 1
