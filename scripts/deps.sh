#!/bin/bash
# Installs the Debian packages visor needs (when root), or prints the exact
# apt-get line and fails (when not). Usage: scripts/deps.sh [build|fuzz|all]
set -euo pipefail
# clang-19 builds the eBPF test programs (tests/progs) in every build and
# compiles C for `visor run FILE.c`; libclang-19 parses the BCC dialect;
# llvm-19-dev (with libclang-19-dev) builds the compile server's in-process
# clang module; python3 writes a pcap capture in a CLI test, objdump
# (binutils) reads JIT dumps;
# the tests cross-check pinned kernel maps with bpftool; the network tests
# build veth pairs in namespaces with iproute2's ip.
need=(cmake make gcc binutils python3 pkg-config libbpf-dev libelf-dev zlib1g-dev libpcap-dev clang-19 libclang-19-dev llvm-19-dev iproute2)
case "${1:-build}" in
  fuzz) need+=(llvm-19 libclang-rt-19-dev) ;;
  all) need+=(llvm-19 libclang-rt-19-dev bpftool) ;;
esac
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "visor needs: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "visor: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${missing[@]}" >&2
