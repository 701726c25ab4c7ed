/* LPM trie: longest-prefix match over keys {u32 prefixlen; u8 data[]}.
 *
 * The kernel's structure, so iteration order and error codes match: a
 * binary path-compressed trie where each node holds a prefix; children are
 * chosen by the bit after the node's prefix; "intermediate" nodes (no
 * value) join two subtrees whose prefixes diverge. Stored keys keep the data
 * bytes as given (host bits past the prefix included), as the kernel's.
 * Writers serialise on a mutex; lookups walk child pointers lock-free; nodes
 * are replaced rather than modified and reused after a grace period. */
#include <stdlib.h>

#include "map_internal.h"

#define LPM_IM 1U /* intermediate node */

struct lpm_node {
	struct visor_pool_node pnode;
	_Atomic(struct lpm_node *) child[2];
	uint32_t prefixlen;
	_Atomic uint32_t flags;
	uint8_t data[] __attribute__((aligned(8))); /* data_size bytes, then the value */
};

struct lpm_trie {
	struct visor_map map;
	_Atomic(struct lpm_node *) root;
	pthread_mutex_t lock;
	uint32_t n_entries;
	uint32_t data_size, max_prefixlen;
	size_t data_rsz;
	struct visor_pool pool;
};

#define LT(m) container_of(m, struct lpm_trie, map)

static inline uint32_t key_plen(const void *key)
{
	uint32_t p;
	memcpy(&p, key, 4);
	return p;
}

static inline const uint8_t *key_data(const void *key)
{
	return (const uint8_t *)key + 4;
}

static inline uint8_t *node_value(struct lpm_trie *t, struct lpm_node *n)
{
	return n->data + t->data_rsz;
}

static inline int extract_bit(const uint8_t *data, uint32_t index)
{
	return !!(data[index / 8] & (1U << (7 - (index % 8))));
}

static inline bool is_im(struct lpm_node *n)
{
	return atomic_load_explicit(&n->flags, memory_order_relaxed) & LPM_IM;
}

/* How many leading bits of the node's prefix the key matches. */
static uint32_t prefix_match(struct lpm_trie *t, struct lpm_node *n, const void *key)
{
	uint32_t kp = key_plen(key);
	uint32_t limit = n->prefixlen < kp ? n->prefixlen : kp;
	const uint8_t *kd = key_data(key);
	uint32_t len = 0;
	for (uint32_t i = 0; i < t->data_size && len < limit; i++) {
		uint8_t diff = n->data[i] ^ kd[i];
		if (diff) {
			len += (uint32_t)__builtin_clz(diff) - 24;
			break;
		}
		len += 8;
	}
	return len < limit ? len : limit;
}

static int lpm_alloc(const struct visor_map_create_opts *o, struct visor_map **out, char *err,
		     size_t errlen)
{
	if (!o->max_entries)
		return visor_errf(err, errlen, -EINVAL, "max_entries is 0");
	if (!(o->map_flags & VISOR_F_NO_PREALLOC))
		return visor_errf(err, errlen, -EINVAL,
				      "LPM tries require VISOR_F_NO_PREALLOC, as in the kernel");
	if (o->key_size < 4 + 1 || o->key_size > 4 + LPM_DATA_SIZE_MAX)
		return visor_errf(err, errlen, -EINVAL,
				      "key_size %u: must be 4 (prefixlen) + 1..%u data bytes",
				      o->key_size, LPM_DATA_SIZE_MAX);
	if (o->value_size < 1 || o->value_size > LPM_VAL_SIZE_MAX)
		return visor_errf(err, errlen, -EINVAL, "value_size %u: must be 1..%u",
				      o->value_size, LPM_VAL_SIZE_MAX);
	struct lpm_trie *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->data_size = o->key_size - 4;
	t->data_rsz = ROUND8(t->data_size);
	t->max_prefixlen = t->data_size * 8;
	size_t esz = sizeof(struct lpm_node) + t->data_rsz + ROUND8(o->value_size);
	size_t maxc = o->max_entries < 64 ? 64 : o->max_entries;
	if (visor_pool_init(&t->pool, esz, 0, maxc, 0, 1, NULL)) {
		free(t);
		return -ENOMEM;
	}
	t->pool.value_off = offsetof(struct lpm_node, data) + t->data_rsz;
	t->pool.value_len = o->value_size;
	pthread_mutex_init(&t->lock, NULL);
	atomic_init(&t->root, NULL);
	visor_map_init_common(&t->map, o, &visor_lpm_ops);
	*out = &t->map;
	return 0;
}

static void lpm_free(struct visor_map *m)
{
	struct lpm_trie *t = LT(m);
	visor_pool_destroy(&t->pool); /* nodes live in the pool's chunks */
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct lpm_node *match(struct lpm_trie *t, const void *key)
{
	struct lpm_node *found = NULL;
	if (key_plen(key) > t->max_prefixlen)
		return NULL;
	for (struct lpm_node *n = atomic_load_explicit(&t->root, memory_order_acquire); n;) {
		uint32_t ml = prefix_match(t, n, key);
		if (ml == t->max_prefixlen)
			return n;
		if (ml < n->prefixlen)
			break;
		if (!is_im(n))
			found = n;
		n = atomic_load_explicit(&n->child[extract_bit(key_data(key), n->prefixlen)],
					 memory_order_acquire);
	}
	return found;
}

static int lpm_lookup_sys(struct visor_map *m, const void *key, void *value)
{
	struct lpm_node *n = match(LT(m), key);
	if (!n)
		return -ENOENT;
	visor_long_memcpy(value, node_value(LT(m), n), m->value_size);
	return 0;
}

static void *lpm_lookup_ptr(struct visor_map *m, const void *key)
{
	struct lpm_node *n = match(LT(m), key);
	return n ? node_value(LT(m), n) : NULL;
}

static struct lpm_node *node_new(struct lpm_trie *t, uint32_t prefixlen, const uint8_t *data,
				 const void *value)
{
	struct lpm_node *n = visor_pool_alloc(&t->pool);
	if (!n)
		return NULL;
	atomic_store_explicit(&n->child[0], NULL, memory_order_relaxed);
	atomic_store_explicit(&n->child[1], NULL, memory_order_relaxed);
	n->prefixlen = prefixlen;
	atomic_store_explicit(&n->flags, value ? 0 : LPM_IM, memory_order_relaxed);
	memcpy(n->data, data, t->data_size);
	if (value) {
		uint8_t *v = node_value(t, n);
		visor_long_memcpy(v, value, t->map.value_size);
		memset(v + t->map.value_size, 0, ROUND8(t->map.value_size) - t->map.value_size);
	}
	return n;
}

/* The kernel's trie_check_add_elem(). */
static int check_add(struct lpm_trie *t, uint64_t flags)
{
	if (flags == VISOR_EXIST)
		return -ENOENT;
	if (t->n_entries == t->map.max_entries)
		return -ENOSPC;
	t->n_entries++;
	return 0;
}

static inline void publish(_Atomic(struct lpm_node *) *slot, struct lpm_node *n)
{
	atomic_store_explicit(slot, n, memory_order_release);
}

static inline struct lpm_node *child(struct lpm_node *n, int i)
{
	return atomic_load_explicit(&n->child[i], memory_order_relaxed);
}

static int lpm_update(struct visor_map *m, const void *key, const void *value, uint64_t flags)
{
	struct lpm_trie *t = LT(m);
	uint32_t plen = key_plen(key), ml = 0;
	struct lpm_node *n, *nn, *im, *old = NULL;
	int err = 0;

	if (flags > VISOR_EXIST)
		return -EINVAL;
	if (plen > t->max_prefixlen) {
		visor_map_detail = "prefixlen is larger than the key's data";
		return -EINVAL;
	}
	if (!(nn = node_new(t, plen, key_data(key), value)))
		return -ENOMEM;

	pthread_mutex_lock(&t->lock);
	_Atomic(struct lpm_node *) *slot = &t->root;
	while ((n = atomic_load_explicit(slot, memory_order_relaxed))) {
		ml = prefix_match(t, n, key);
		if (n->prefixlen != ml || n->prefixlen == plen)
			break;
		slot = &n->child[extract_bit(key_data(key), n->prefixlen)];
	}
	if (!n) { /* an empty slot */
		if (!(err = check_add(t, flags)))
			publish(slot, nn);
		goto out;
	}
	if (n->prefixlen == ml) { /* same prefix: replace the node */
		if (!is_im(n)) {
			if (flags == VISOR_NOEXIST) {
				err = -EEXIST;
				goto out;
			}
		} else if ((err = check_add(t, flags))) {
			goto out;
		}
		atomic_store_explicit(&nn->child[0], child(n, 0), memory_order_relaxed);
		atomic_store_explicit(&nn->child[1], child(n, 1), memory_order_relaxed);
		publish(slot, nn);
		old = n;
		goto out;
	}
	if ((err = check_add(t, flags)))
		goto out;
	if (ml == plen) { /* the new prefix contains n's: insert above it */
		atomic_store_explicit(&nn->child[extract_bit(n->data, ml)], n, memory_order_relaxed);
		publish(slot, nn);
		goto out;
	}
	/* Diverging prefixes: an intermediate node joins them. */
	if (!(im = node_new(t, ml, n->data, NULL))) {
		t->n_entries--;
		err = -ENOMEM;
		goto out;
	}
	if (extract_bit(key_data(key), ml)) {
		atomic_store_explicit(&im->child[0], n, memory_order_relaxed);
		atomic_store_explicit(&im->child[1], nn, memory_order_relaxed);
	} else {
		atomic_store_explicit(&im->child[0], nn, memory_order_relaxed);
		atomic_store_explicit(&im->child[1], n, memory_order_relaxed);
	}
	publish(slot, im);
out:
	pthread_mutex_unlock(&t->lock);
	if (err)
		visor_pool_free_now(&t->pool, nn);
	if (old)
		visor_pool_retire(&t->pool, old);
	return err;
}

static int lpm_delete(struct visor_map *m, const void *key)
{
	struct lpm_trie *t = LT(m);
	uint32_t plen = key_plen(key), ml = 0;
	struct lpm_node *n, *parent = NULL, *free1 = NULL, *free2 = NULL;
	int err = 0;

	if (plen > t->max_prefixlen) {
		visor_map_detail = "prefixlen is larger than the key's data";
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	_Atomic(struct lpm_node *) *trim = &t->root, *trim2 = trim;
	while ((n = atomic_load_explicit(trim, memory_order_relaxed))) {
		ml = prefix_match(t, n, key);
		if (n->prefixlen != ml || n->prefixlen == plen)
			break;
		parent = n;
		trim2 = trim;
		trim = &n->child[extract_bit(key_data(key), n->prefixlen)];
	}
	if (!n || n->prefixlen != plen || n->prefixlen != ml || is_im(n)) {
		err = -ENOENT;
		goto out;
	}
	t->n_entries--;
	if (child(n, 0) && child(n, 1)) {
		/* Still needed to join its children: keep it as intermediate. */
		atomic_store_explicit(&n->flags, LPM_IM, memory_order_relaxed);
		goto out;
	}
	if (parent && is_im(parent) && !child(n, 0) && !child(n, 1)) {
		/* A leaf under an intermediate node: the sibling takes the
		 * parent's place, so intermediate nodes keep two children. */
		publish(trim2, child(parent, child(parent, 0) == n ? 1 : 0));
		free1 = parent;
		free2 = n;
		goto out;
	}
	publish(trim, child(n, 0) ? child(n, 0) : child(n, 1));
	free1 = n;
out:
	pthread_mutex_unlock(&t->lock);
	if (free1)
		visor_pool_retire(&t->pool, free1);
	if (free2)
		visor_pool_retire(&t->pool, free2);
	return err;
}

/* The kernel's order: postorder, so more specific prefixes come before the
 * prefixes containing them; a missing key restarts at the leftmost node. */
static int lpm_get_next_key(struct visor_map *m, const void *key, void *next)
{
	struct lpm_trie *t = LT(m);
	struct lpm_node *search_root = atomic_load_explicit(&t->root, memory_order_acquire);
	struct lpm_node *n, *next_node = NULL, **stack = NULL;
	int sp = -1, err = 0;
	uint32_t ml = 0;

	if (!search_root)
		return -ENOENT;
	if (!key || key_plen(key) > t->max_prefixlen)
		goto leftmost;
	stack = malloc((t->max_prefixlen + 1) * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	for (n = search_root; n;) {
		stack[++sp] = n;
		ml = prefix_match(t, n, key);
		if (n->prefixlen != ml || n->prefixlen == key_plen(key))
			break;
		n = atomic_load_explicit(&n->child[extract_bit(key_data(key), n->prefixlen)],
					 memory_order_acquire);
	}
	if (!n || n->prefixlen != ml || n->prefixlen != key_plen(key) || is_im(n))
		goto leftmost;
	n = stack[sp];
	while (sp > 0) {
		struct lpm_node *parent = stack[sp - 1];
		if (atomic_load_explicit(&parent->child[0], memory_order_acquire) == n) {
			search_root = atomic_load_explicit(&parent->child[1], memory_order_acquire);
			if (search_root)
				goto leftmost;
		}
		if (!is_im(parent)) {
			next_node = parent;
			goto copy;
		}
		n = parent;
		sp--;
	}
	err = -ENOENT;
	goto done;
leftmost:
	for (n = search_root; n;) {
		if (is_im(n)) {
			n = atomic_load_explicit(&n->child[0], memory_order_acquire);
		} else {
			next_node = n;
			n = atomic_load_explicit(&n->child[0], memory_order_acquire);
			if (!n)
				n = atomic_load_explicit(&next_node->child[1], memory_order_acquire);
		}
	}
	if (!next_node) { /* only possible while a writer reshapes the trie */
		err = -ENOENT;
		goto done;
	}
copy:
	memcpy(next, &next_node->prefixlen, 4);
	memcpy((uint8_t *)next + 4, next_node->data, t->data_size);
done:
	free(stack);
	return err;
}

static bool lpm_value_ok(const struct visor_map *m, const void *ptr, size_t len)
{
	return visor_pool_contains(&container_of(m, struct lpm_trie, map)->pool, ptr, len);
}

const struct visor_map_ops visor_lpm_ops = {
	.alloc = lpm_alloc,
	.free = lpm_free,
	.lookup_sys = lpm_lookup_sys,
	.update_sys = lpm_update,
	.delete_elem = lpm_delete,
	.get_next_key = lpm_get_next_key,
	.lookup_ptr = lpm_lookup_ptr,
	.update_prog = lpm_update,
	.value_ok = lpm_value_ok,
};
