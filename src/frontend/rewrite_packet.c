/* bcc/proto.h field reads: `ip->dst` where ip points to a packet struct
 * (marked visor_packet) becomes __visor_pkt_read(ctx, (u64)(ip) + BYTE,
 * BIT, BITS), which loads the field from the packet (skb loads for socket
 * filters and tc, bounds-checked direct access for XDP) and returns it in
 * host order as BCC does. The pointers are offsets into the packet
 * (cursor_advance from 0). Offsets come from clang's record layout. */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <stdlib.h>
#include <string.h>

static bool is_packet_record(struct rw *rw, CXType t)
{
	t = rw->lc->clang_getCanonicalType(t);
	return t.kind == CXType_Record && rw_record_has_annotation(rw, t, "visor_packet");
}

/* The record a member access reads from, and whether through `->`. */
static bool access_record(struct rw *rw, struct rw_node *n, CXType *record, bool *arrow)
{
	if (n->kind != CXCursor_MemberRefExpr || !n->child)
		return false;
	CXType bt = rw_type(rw, n->child);
	*arrow = bt.kind == CXType_Pointer;
	*record = *arrow ? rw->lc->clang_getCanonicalType(rw->lc->clang_getPointeeType(bt)) : bt;
	return is_packet_record(rw, *record);
}

static const char *write_or_address(struct rw *rw, struct rw_node *n)
{
	struct rw_node *via = NULL, *p = rw_parent(n, &via);
	if (!p)
		return NULL;
	if (p->kind == CXCursor_UnaryOperator) {
		switch (rw->lc->clang_getCursorUnaryOperatorKind(p->cur)) {
		case CXUnaryOperator_AddrOf:
			return "taking the address of a packet field is not supported";
		case CXUnaryOperator_PreInc:
		case CXUnaryOperator_PreDec:
		case CXUnaryOperator_PostInc:
		case CXUnaryOperator_PostDec:
			return "writing packet fields is not supported";
		default:
			return NULL;
		}
	}
	if ((p->kind == CXCursor_BinaryOperator &&
	     rw->lc->clang_getCursorBinaryOperatorKind(p->cur) == CXBinaryOperator_Assign &&
	     p->child == via) ||
	    (p->kind == CXCursor_CompoundAssignOperator && p->child == via))
		return "writing packet fields is not supported";
	return NULL;
}

static bool in_sizeof(struct rw_node *n)
{
	for (struct rw_node *p = n->parent; p; p = p->parent)
		if (p->kind == CXCursor_UnaryExpr)
			return true;
	return false;
}

static char *packet_ctx(struct rw *rw, struct rw_func *f)
{
	if (!f || !f->nparams)
		return NULL;
	CXType t = rw_type(rw, f->params[0]);
	if (t.kind != CXType_Pointer)
		return NULL;
	char *ts = visor_clang_string(rw->lc, rw->lc->clang_getTypeSpelling(rw->lc->clang_getCanonicalType(
						  rw->lc->clang_getPointeeType(t))));
	bool ok = ts && (!strcmp(ts, "struct __sk_buff") || !strcmp(ts, "struct xdp_md"));
	free(ts);
	return ok ? rw_spelling(rw, f->params[0]->cur) : NULL;
}

static void rewrite_read(struct rw *rw, struct rw_node *n)
{
	unsigned name_off = 0;
	rw_is_main_file(rw, rw->lc->clang_getCursorLocation(n->cur), &name_off);
	const char *bad = write_or_address(rw, n);
	if (bad) {
		rw_error(rw, name_off, "%s", bad);
		return;
	}
	/* walk `p->a.b` down to the pointer, adding the fields' bit offsets */
	CXCursor field = rw->lc->clang_getCursorReferenced(n->cur);
	int width = rw->lc->clang_getFieldDeclBitWidth(field);
	if (width < 0) {
		CXType ft = rw->lc->clang_getCanonicalType(rw->lc->clang_getCursorType(field));
		if (ft.kind == CXType_Record || ft.kind == CXType_ConstantArray) {
			rw_error(rw, name_off,
				 "reading a whole packet field of struct or array type is not supported: "
				 "read its members");
			return;
		}
		width = (int)(rw->lc->clang_Type_getSizeOf(ft) * 8);
	}
	long long bits = 0;
	struct rw_node *cur = n, *ptr = NULL;
	for (;;) {
		CXType record;
		bool arrow;
		if (!access_record(rw, cur, &record, &arrow))
			break;
		long long off = rw->lc->clang_Cursor_getOffsetOfField(
			rw->lc->clang_getCursorReferenced(cur->cur));
		if (off < 0)
			break;
		bits += off;
		if (arrow) {
			ptr = cur->child;
			break;
		}
		cur = rw_strip(cur->child);
	}
	if (!ptr) {
		rw_error(rw, name_off, "packet structs are read through a pointer into the packet "
				       "(cursor_advance)");
		return;
	}
	char *ctx = packet_ctx(rw, n->func);
	if (!ctx) {
		rw_error(rw, name_off,
			 "packet fields are read through the program's context: the function's first "
			 "parameter must be struct __sk_buff * or struct xdp_md *");
		return;
	}
	if (!n->editable || !ptr->editable) {
		rw_error(rw, name_off, "a packet field read inside a macro: write it in the code");
		free(ctx);
		return;
	}
	rw_insert(rw, n->start, (int)n->depth, "__visor_pkt_read(%s, (u64)(", ctx);
	rw_replace(rw, ptr->end, n->end - ptr->end, ") + %lld, %lld, %d)", bits / 8, bits % 8, width);
	free(ctx);
}

void rw_packet(struct rw *rw)
{
	for (size_t i = 0; i < rw->nnodes; i++) {
		struct rw_node *n = rw->nodes[i];
		CXType record;
		bool arrow;
		if (!n->func || !access_record(rw, n, &record, &arrow) || in_sizeof(n))
			continue;
		/* p->a.b: the outermost access reads; p->a is only its base */
		struct rw_node *via = NULL, *p = rw_parent(n, &via);
		CXType pr;
		bool parrow;
		if (p && p->child == via && access_record(rw, p, &pr, &parrow) && !parrow)
			continue;
		rewrite_read(rw, n);
	}
}
