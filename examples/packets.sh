#!/bin/bash
# Writes a pcap capture of generated Ethernet frames for the demo: IPv4 UDP
# packets between documentation addresses (RFC 5737), so many per pair,
# and one ARP frame. Usage: examples/packets.sh OUT.pcap
set -euo pipefail
out=${1:?usage: packets.sh OUT.pcap}
bytes() { printf "$(echo "$*" | tr -d ' \n' | sed 's/../\\x&/g')"; }
le32() { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }
record() { local h; h=$(echo "$*" | tr -d ' '); bytes "00000000 00000000 $(le32 $((${#h} / 2))) $(le32 $((${#h} / 2))) $h"; }
hex_ip() { local IFS=.; set -- $1; printf '%02x%02x%02x%02x' "$1" "$2" "$3" "$4"; }
eth="020000000001 020000000002"
# udp SRC DST: Ethernet + IPv4 (UDP, checksum left 0) + UDP header + 4 bytes.
udp() { echo "$eth 0800 4500 0020 0000 0000 40 11 0000 $(hex_ip "$1") $(hex_ip "$2") 3039 0035 000c 0000 64656d6f"; }
{
	bytes "d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000" # pcap header: Ethernet
	for _ in 1 2 3 4 5; do record "$(udp 192.0.2.1 198.51.100.7)"; done
	for _ in 1 2 3; do record "$(udp 192.0.2.2 198.51.100.7)"; done
	for _ in 1 2; do record "$(udp 203.0.113.9 198.51.100.8)"; done
	record "ffffffffffff 020000000002 0806 0001 0800 06 04 0001 020000000002 c0000201 000000000000 c6336407"
} >"$out"
