#ifndef POSTERN_PQ_LOAD_H
#define POSTERN_PQ_LOAD_H

/* pq-load - libpq, loaded when the config store is PostgreSQL and not
 * before. libpq pulls in Kerberos, LDAP, SASL and GnuTLS (18 libraries):
 * linked into every service and every `postern` run, that is 18 more
 * libraries to map, relocate and (under LeakSanitizer) scan in each
 * process of an SQLite installation, which never calls them. db-pg.c and
 * db-copy.c call PQ* as usual: the macros below send each call through
 * the table pq_load fills. Only src/lib-config includes this (db-int.h). */

#include <stdbool.h>
#include <libpq-fe.h>

#define PQ_FUNCS(X) \
	X(PQbackendPID) X(PQclear) X(PQcmdStatus) X(PQcmdTuples) \
	X(PQconnectdbParams) X(PQconsumeInput) X(PQerrorMessage) X(PQexec) \
	X(PQexecParams) X(PQfinish) X(PQfname) X(PQfreemem) X(PQftype) \
	X(PQgetisnull) X(PQgetvalue) X(PQnfields) X(PQnotifies) X(PQntuples) \
	X(PQreset) X(PQresultErrorField) X(PQresultErrorMessage) \
	X(PQresultStatus) X(PQstatus) X(PQtransactionStatus) \
	X(PQunescapeBytea)

struct pq_api {
#define PQ_MEMBER(f) __typeof__(f) *f;
	PQ_FUNCS(PQ_MEMBER)
#undef PQ_MEMBER
};

extern struct pq_api pq_api;

/* pq_load - dlopen libpq.so.5 and resolve every function above, once;
 * 0, or -1 with a message naming what is missing (the libpq5 package) */
int pq_load(const char **error_r);

#ifndef PQ_LOAD_SELF
#define PQbackendPID (pq_api.PQbackendPID)
#define PQclear (pq_api.PQclear)
#define PQcmdStatus (pq_api.PQcmdStatus)
#define PQcmdTuples (pq_api.PQcmdTuples)
#define PQconnectdbParams (pq_api.PQconnectdbParams)
#define PQconsumeInput (pq_api.PQconsumeInput)
#define PQerrorMessage (pq_api.PQerrorMessage)
#define PQexec (pq_api.PQexec)
#define PQexecParams (pq_api.PQexecParams)
#define PQfinish (pq_api.PQfinish)
#define PQfname (pq_api.PQfname)
#define PQfreemem (pq_api.PQfreemem)
#define PQftype (pq_api.PQftype)
#define PQgetisnull (pq_api.PQgetisnull)
#define PQgetvalue (pq_api.PQgetvalue)
#define PQnfields (pq_api.PQnfields)
#define PQnotifies (pq_api.PQnotifies)
#define PQntuples (pq_api.PQntuples)
#define PQreset (pq_api.PQreset)
#define PQresultErrorField (pq_api.PQresultErrorField)
#define PQresultErrorMessage (pq_api.PQresultErrorMessage)
#define PQresultStatus (pq_api.PQresultStatus)
#define PQstatus (pq_api.PQstatus)
#define PQtransactionStatus (pq_api.PQtransactionStatus)
#define PQunescapeBytea (pq_api.PQunescapeBytea)
#endif

#endif
