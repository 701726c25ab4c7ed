/* Test frames: Ethernet, 802.1Q, ARP, IPv4, IPv6, UDP, TCP, ICMP built into
 * a buffer, with documentation addresses only (192.0.2.0/24, 198.51.100.0/24,
 * 203.0.113.0/24, 2001:db8::/32). Shared by the runtime tests. */
#ifndef VISOR_TEST_PACKETS_H
#define VISOR_TEST_PACKETS_H

#include <stddef.h>
#include <stdint.h>

/* Each returns the bytes written at p. */
size_t pkt_eth(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t ethertype);
/* Ethernet header with the default addresses of the whole frames below. */
size_t pkt_eth_hdr(uint8_t *p, uint16_t ethertype);
/* IPv4 header (20 bytes, checksum set) + l4 payload; src/dst in host order
 * (e.g. 0xc0000201 = 192.0.2.1). */
size_t pkt_ipv4(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, const void *l4,
		size_t l4len);
/* Recomputes the header checksum of the IPv4 header at iph (after a field
 * such as the TOS was changed). */
void pkt_ipv4_fix_checksum(uint8_t *iph);
/* IPv6 header (40 bytes) + l4 payload; src/dst 16 bytes each. */
size_t pkt_ipv6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint8_t next,
		const void *l4, size_t l4len);
/* UDP / TCP headers (8 / 20 bytes, checksum 0) + payload; ports host order. */
size_t pkt_udp(uint8_t *p, uint16_t sport, uint16_t dport, const void *payload, size_t len);
size_t pkt_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint8_t flags, const void *payload,
	       size_t len);
/* Whole frames: Ethernet (02:00:00:00:00:02 -> 02:00:00:00:00:01) + IP + L4. */
size_t pkt_udp4(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		const void *payload, size_t len);
size_t pkt_tcp4(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		uint8_t flags);
size_t pkt_udp6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint16_t sport,
		uint16_t dport, const void *payload, size_t len);
/* 2001:db8::<low> */
void pkt_addr6(uint8_t out[16], uint16_t low);
/* Ethernet header to a chosen destination (broadcast, multicast, another
 * host ...) from the default source address of the whole frames. */
size_t pkt_eth_to(uint8_t *p, const uint8_t dst[6], uint16_t ethertype);
/* 802.1Q tag (4 bytes: TCI, then the inner EtherType), after an Ethernet
 * header of type 0x8100. */
size_t pkt_vlan(uint8_t *p, uint16_t tci, uint16_t ethertype);
/* ARP for Ethernet / IPv4 (28 bytes): op 1 request, 2 reply; spa/tpa in
 * host order. */
size_t pkt_arp(uint8_t *p, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
	       uint32_t tpa);

#endif
