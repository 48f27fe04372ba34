/* chat-pep - the chat store's PEP nodes and items (XEP-0163) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "chat-store-private.h"
#include "xalloc.h"

int
chat_pep_node_get(struct chat_store *cs, const char *owner, const char *node,
		  struct pep_node *n, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_NODE_GET, "SELECT access, max_items "
	    "FROM pep_node WHERE owner = ? AND node = ?", error_r);
	int r;

	memset(n, 0, sizeof(*n));
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		snprintf(n->access, sizeof(n->access), "%s", a ? a : "");
		n->max_items = sqlite3_column_int(st, 1);
	}
	done(st);
	if (r == SQLITE_ROW)
		return 1;
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "pep node");
}

int
chat_pep_publish(struct chat_store *cs, const char *owner, const char *node,
		 const struct pep_node *cfg, const char *item_id,
		 const char *xml, const char **error_r)
{
	struct pep_node cur;
	sqlite3_stmt *st;
	int r = chat_pep_node_get(cs, owner, node, &cur, error_r);

	if (r < 0)
		return -1;
	if (r == 0) {
		st = prep(cs, ST_PEP_NODE_COUNT, "SELECT count(*) FROM pep_node "
		    "WHERE owner = ?", error_r);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
		int n = sqlite3_step(st) == SQLITE_ROW ?
		    sqlite3_column_int(st, 0) : 0;
		done(st);
		if (n >= CHAT_PEP_NODES_MAX)
			return 1;
	}
	if (write_begin(cs, error_r) < 0)
		return -1;
	st = prep(cs, ST_PEP_NODE_PUT, "INSERT OR REPLACE INTO pep_node (owner, "
	    "node, access, max_items) VALUES (?,?,?,?)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, cfg->access, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, cfg->max_items);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep node write");
	/* a new seq even when the id is reused: the newest is last */
	st = prep(cs, ST_PEP_ITEM_PUT, "INSERT OR REPLACE INTO pep_item (owner, "
	    "node, item_id, xml) VALUES (?,?,?,?)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, item_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, xml, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep item write");
	st = prep(cs, ST_PEP_ITEM_TRIM, "DELETE FROM pep_item WHERE owner = ?1 "
	    "AND node = ?2 AND seq <= (SELECT seq FROM pep_item WHERE owner = "
	    "?1 AND node = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?3)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, cfg->max_items);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "pep trim");
}

int
chat_pep_items(struct chat_store *cs, const char *owner, const char *node,
	       int max, void (*fn)(void *ctx, const char *id, const char *xml),
	       void *ctx, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_ITEMS, "SELECT item_id, xml FROM "
	    "(SELECT seq, item_id, xml FROM pep_item WHERE owner = ? AND "
	    "node = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq", error_r);
	struct row { char *id, *xml; } *rows = NULL;
	size_t n = 0;
	int r;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, max);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rows = xreallocarray(rows, n + 1, sizeof(*rows));
		rows[n].id = col_text(st, 0);
		rows[n++].xml = col_text(st, 1);
	}
	done(st);
	for (size_t i = 0; i < n; i++) {
		if (r == SQLITE_DONE)
			fn(ctx, rows[i].id, rows[i].xml);
		free(rows[i].id);
		free(rows[i].xml);
	}
	free(rows);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "pep items");
}

int
chat_pep_retract(struct chat_store *cs, const char *owner, const char *node,
		 const char *item_id, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_ITEM_DEL, "DELETE FROM pep_item WHERE "
	    "owner = ? AND node = ? AND item_id = ?", error_r);
	int r;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, item_id, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep retract");
	return sqlite3_changes(cs->h) > 0;
}

int
chat_pep_delete(struct chat_store *cs, const char *owner, const char *node,
		const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_NODE_DEL_ITEMS, "DELETE FROM pep_item "
	    "WHERE owner = ? AND node = ?", error_r);
	int r;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep delete");
	st = prep(cs, ST_PEP_NODE_DEL, "DELETE FROM pep_node WHERE owner = ? "
	    "AND node = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep delete");
	return sqlite3_changes(cs->h) > 0;
}

int
chat_pep_last(struct chat_store *cs, const char *owner,
	      void (*fn)(void *ctx, const char *node, const char *access,
			 const char *id, const char *xml),
	      void *ctx, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_LAST, "SELECT n.node, n.access, "
	    "i.item_id, i.xml FROM pep_node n JOIN pep_item i ON i.seq = "
	    "(SELECT max(seq) FROM pep_item WHERE owner = n.owner AND "
	    "node = n.node) WHERE n.owner = ? ORDER BY n.node", error_r);
	struct row { char *node, *access, *id, *xml; } *rows = NULL;
	size_t n = 0;
	int r;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	while ((r = sqlite3_step(st)) == SQLITE_ROW &&
	    n < CHAT_PEP_NODES_MAX) {
		rows = xreallocarray(rows, n + 1, sizeof(*rows));
		rows[n].node = col_text(st, 0);
		rows[n].access = col_text(st, 1);
		rows[n].id = col_text(st, 2);
		rows[n++].xml = col_text(st, 3);
	}
	done(st);
	for (size_t i = 0; i < n; i++) {
		if (r == SQLITE_DONE || r == SQLITE_ROW)
			fn(ctx, rows[i].node, rows[i].access, rows[i].id,
			    rows[i].xml);
		free(rows[i].node);
		free(rows[i].access);
		free(rows[i].id);
		free(rows[i].xml);
	}
	free(rows);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 :
	    cs_fail(cs, error_r, "pep last");
}

int
chat_pep_owners(struct chat_store *cs, const char *po, char ***owners_r,
		size_t *n_r, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_OWNERS, "SELECT DISTINCT owner FROM "
	    "pep_node WHERE owner LIKE '%@' || ? ESCAPE '\\' LIMIT 10000",
	    error_r);
	int r;

	*owners_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	char *esc = xmalloc(2 * strlen(po) + 1), *e = esc;
	for (const char *p = po; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			*e++ = '\\';
		*e++ = *p;
	}
	*e = '\0';
	sqlite3_bind_text(st, 1, esc, -1, SQLITE_TRANSIENT);
	free(esc);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		*owners_r = xreallocarray(*owners_r, *n_r + 1, sizeof(char *));
		(*owners_r)[(*n_r)++] = col_text(st, 0);
	}
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "pep owners");
}
