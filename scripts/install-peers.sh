#!/usr/bin/env bash
# Installs, from Debian's packages and only when missing, the real
# components that tests and benchmarks run beside MQLite: redis-server
# (Redis 7, the peer of `npm run bench:peers`), nats-server (NATS with
# JetStream: the peer, and the engine of the replicated store), chromium
# (the dashboard's browser tests) and nghttp2-client (h2load, an HTTP/2
# load generator). `.ci/run` runs it before the tests. Needs root (or sudo)
# for apt-get.
# The benchmark never uses the packages' system services (it starts its own
# instances on free loopback ports): where no policy-rc.d exists, one is put
# in place for the install so that apt does not start them.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "install-peers: ${missing[*]} missing and not root (no sudo): install them with apt-get" >&2
    exit 1
  fi
fi

echo "install-peers: installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# policy-rc.d 101: do not start the packaged services during the install
# (no init system here in containers; elsewhere we do not want a redis on 6379).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
