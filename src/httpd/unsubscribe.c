/* unsubscribe - RFC 8058 one-click list unsubscription.
 *
 * The list server puts in each copy
 *   List-Unsubscribe: <URL?list=L&member=M&key=K>, <mailto:...>
 *   List-Unsubscribe-Post: List-Unsubscribe=One-Click
 * (URL: setting list.unsubscribe_url, else http.public_url +
 * /list/unsubscribe; K: lib-admin/listkey.h). A mail client then POSTs
 * List-Unsubscribe=One-Click (form-urlencoded or multipart/form-data) to
 * the URL and the member is removed at once. A GET never unsubscribes
 * (link scanners and prefetchers follow links): it shows a page whose
 * button makes that POST.
 *
 * Every failure (unknown list, member or key, malformed parameters)
 * gets the same answer, so nothing tells whether an address is on a
 * list; a right key for an address already gone gets the success page
 * (the request is idempotent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "http-form.h"
#include "httpd.h"
#include "listkey.h"
#include "log.h"
#include "strutil.h"
#include "url.h"
#include "xalloc.h"

#define INVALID_TEXT "This unsubscribe link is not valid. It may be " \
	"incomplete (copy the whole link) or made for another list."

struct unsub_args {
	const char *list, *member, *key;
	int64_t list_id;
};

/* args_check - the parameters name a list and the key fits the member:
 * true, with the list's id */
static bool
args_check(struct httpd_req *rq, struct unsub_args *a)
{
	unsigned char secret[LIST_SECRET_LEN];
	const char *err;

	if (a->list == NULL || a->member == NULL || a->key == NULL ||
	    !list_token_valid(a->key) || strlen(a->list) > 320 ||
	    strlen(a->member) > 320)
		return false;
	if (adm_object_id(rq->svc->db, ADM_LIST, a->list, &a->list_id, &err) < 0)
		return false;
	if (list_secret_load(rq->svc->db, secret, &err) < 0) {
		log_warnx("http c%llu: %s", (unsigned long long)rq->conn_id, err);
		return false;
	}
	return list_member_key_ok(secret, a->list_id, a->member, a->key);
}

/* confirm_page - the GET answer: a button that makes the POST */
static void
confirm_page(struct http_response *resp, const struct unsub_args *a)
{
	struct buf h, action;

	buf_init(&h, 0);
	buf_init(&action, 0);
	buf_puts(&action, "?list=");
	url_encode(&action, a->list);
	buf_puts(&action, "&member=");
	url_encode(&action, a->member);
	buf_puts(&action, "&key=");
	url_encode(&action, a->key);
	buf_puts(&h, "<p>Unsubscribe <strong>");
	http_escape(&h, a->member);
	buf_puts(&h, "</strong> from the list <strong>");
	http_escape(&h, a->list);
	buf_puts(&h, "</strong>?</p>\n<form method=\"post\" action=\"");
	http_escape(&h, action.data);
	buf_puts(&h, "\"><input type=\"hidden\" name=\"List-Unsubscribe\" "
	    "value=\"One-Click\"><button type=\"submit\">Unsubscribe</button>"
	    "</form>\n<p>Nothing changes until you press the button.</p>");
	httpd_page(resp, 200, "Unsubscribe", h.data);
	buf_free(&h);
	buf_free(&action);
}

static void
unsubscribe(struct httpd_req *rq, struct http_response *resp)
{
	const struct http_request *req = rq->req;
	struct http_form q = { 0 }, body = { 0 };
	struct unsub_args a = { 0 };
	const char *err;
	bool post = strcmp(req->method, "POST") == 0;

	if (req->query != NULL &&
	    http_form_parse(req->query, strlen(req->query), &q, &err) < 0) {
		httpd_error(resp, 400, INVALID_TEXT);
		goto out;
	}
	if (post) {
		int r = http_form_request(req, &body, &err);
		if (r == -2) {
			httpd_error(resp, 415, "Send the form as "
			    "application/x-www-form-urlencoded or multipart/form-data.");
			goto out;
		}
		const char *v = r == 0 ? http_form_get(&body, "List-Unsubscribe") : NULL;
		if (v == NULL || strcmp(v, "One-Click") != 0) {
			httpd_error(resp, 400, "The request must carry "
			    "List-Unsubscribe=One-Click (RFC 8058).");
			goto out;
		}
	}
	/* the parameters are in the URL; a form may carry them too */
	a.list = http_form_get(&q, "list");
	a.member = http_form_get(&q, "member");
	a.key = http_form_get(&q, "key");
	if (a.list == NULL)
		a.list = http_form_get(&body, "list");
	if (a.member == NULL)
		a.member = http_form_get(&body, "member");
	if (a.key == NULL)
		a.key = http_form_get(&body, "key");
	if (!args_check(rq, &a)) {
		rq->note = "invalid unsubscribe link";
		httpd_error(resp, 400, INVALID_TEXT);
		goto out;
	}
	if (!post) {
		confirm_page(resp, &a);
		goto out;
	}
	int r = adm_list_member_del(rq->svc->db, a.list, a.member, &err);
	if (r != ADM_OK && r != ADM_NOTFOUND) {
		log_warnx("list %s: one-click unsubscribe of <%s>: %s", a.list,
		    a.member, err);
		httpd_error(resp, 503, "The list could not be changed just now; "
		    "please try again later.");
		http_response_field(resp, "Retry-After", "60");
		goto out;
	}
	if (r == ADM_OK)
		log_info("list %s: <%s> unsubscribed (one-click, http c%llu %s)",
		    a.list, a.member, (unsigned long long)rq->conn_id, rq->client);
	struct buf h;
	buf_init(&h, 0);
	buf_puts(&h, "<p><strong>");
	http_escape(&h, a.member);
	buf_puts(&h, "</strong> is no longer subscribed to <strong>");
	http_escape(&h, a.list);
	buf_puts(&h, "</strong>.</p>");
	httpd_page(resp, 200, "Unsubscribed", h.data);
	buf_free(&h);
	rq->note = r == ADM_OK ? "unsubscribed" : "already unsubscribed";
out:
	http_form_free(&q);
	http_form_free(&body);
}

const struct httpd_route unsubscribe_routes[] = {
	{ LIST_UNSUBSCRIBE_PATH, false, "GET, HEAD, POST", unsubscribe },
	{ NULL, false, NULL, NULL },
};
