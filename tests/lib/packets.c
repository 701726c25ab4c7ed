/* Test frames built byte by byte in network order (see packets.h). */
#include "packets.h"

#include <string.h>

static const uint8_t MAC_DST[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t MAC_SRC[6] = {0x02, 0, 0, 0, 0, 0x02};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* RFC 1071 one's-complement sum over the header. */
static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t pkt_eth(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t ethertype)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	put16(p + 12, ethertype);
	return 14;
}

size_t pkt_ipv4(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, const void *l4,
		size_t l4len)
{
	memset(p, 0, 20);
	p[0] = 0x45; /* version 4, 5 words */
	put16(p + 2, (uint16_t)(20 + l4len));
	put16(p + 4, 1);      /* id */
	put16(p + 6, 0x4000); /* don't fragment */
	p[8] = 64;            /* ttl */
	p[9] = proto;
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, ip_checksum(p, 20));
	if (l4len)
		memmove(p + 20, l4, l4len);
	return 20 + l4len;
}

size_t pkt_ipv6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint8_t next,
		const void *l4, size_t l4len)
{
	memset(p, 0, 8);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)l4len);
	p[6] = next;
	p[7] = 64; /* hop limit */
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	if (l4len)
		memmove(p + 40, l4, l4len);
	return 40 + l4len;
}

size_t pkt_udp(uint8_t *p, uint16_t sport, uint16_t dport, const void *payload, size_t len)
{
	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, (uint16_t)(8 + len));
	put16(p + 6, 0);
	if (len)
		memmove(p + 8, payload, len);
	return 8 + len;
}

size_t pkt_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint8_t flags, const void *payload,
	       size_t len)
{
	memset(p, 0, 20);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, 1); /* seq */
	p[12] = 0x50;    /* 5 words, no options */
	p[13] = flags;
	put16(p + 14, 0xffff); /* window */
	if (len)
		memmove(p + 20, payload, len);
	return 20 + len;
}

/* L4 is built first in a scratch buffer, then wrapped, so payloads may be
 * any size the caller's buffer holds. */
#define L4_MAX 2048

size_t pkt_udp4(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		const void *payload, size_t len)
{
	uint8_t l4[L4_MAX];
	if (len > L4_MAX - 8)
		len = L4_MAX - 8;
	size_t l4len = pkt_udp(l4, sport, dport, payload, len);
	size_t n = pkt_eth(p, MAC_DST, MAC_SRC, 0x0800);
	return n + pkt_ipv4(p + n, src, dst, 17, l4, l4len);
}

size_t pkt_tcp4(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		uint8_t flags)
{
	uint8_t l4[20];
	size_t l4len = pkt_tcp(l4, sport, dport, flags, NULL, 0);
	size_t n = pkt_eth(p, MAC_DST, MAC_SRC, 0x0800);
	return n + pkt_ipv4(p + n, src, dst, 6, l4, l4len);
}

size_t pkt_udp6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint16_t sport,
		uint16_t dport, const void *payload, size_t len)
{
	uint8_t l4[L4_MAX];
	if (len > L4_MAX - 8)
		len = L4_MAX - 8;
	size_t l4len = pkt_udp(l4, sport, dport, payload, len);
	size_t n = pkt_eth(p, MAC_DST, MAC_SRC, 0x86dd);
	return n + pkt_ipv6(p + n, src, dst, 17, l4, l4len);
}

void pkt_addr6(uint8_t out[16], uint16_t low)
{
	static const uint8_t prefix[4] = {0x20, 0x01, 0x0d, 0xb8};
	memset(out, 0, 16);
	memcpy(out, prefix, 4);
	put16(out + 14, low);
}

size_t pkt_eth_hdr(uint8_t *p, uint16_t ethertype)
{
	return pkt_eth(p, MAC_DST, MAC_SRC, ethertype);
}

void pkt_ipv4_fix_checksum(uint8_t *iph)
{
	size_t len = (size_t)(iph[0] & 0x0f) * 4;
	put16(iph + 10, 0);
	put16(iph + 10, ip_checksum(iph, len));
}

size_t pkt_eth_to(uint8_t *p, const uint8_t dst[6], uint16_t ethertype)
{
	return pkt_eth(p, dst, MAC_SRC, ethertype);
}

size_t pkt_vlan(uint8_t *p, uint16_t tci, uint16_t ethertype)
{
	put16(p, tci);
	put16(p + 2, ethertype);
	return 4;
}

size_t pkt_arp(uint8_t *p, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
	       uint32_t tpa)
{
	put16(p, 1);          /* hardware: Ethernet */
	put16(p + 2, 0x0800); /* protocol: IPv4 */
	p[4] = 6;
	p[5] = 4;
	put16(p + 6, op);
	memcpy(p + 8, sha, 6);
	put32(p + 14, spa);
	memcpy(p + 18, tha, 6);
	put32(p + 24, tpa);
	return 28;
}
