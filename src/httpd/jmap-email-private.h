#ifndef POSTERN_JMAP_EMAIL_PRIVATE_H
#define POSTERN_JMAP_EMAIL_PRIVATE_H

/* jmap-email-private - what the files of the Email parsers share:
 * jmap-email.c (headers, addresses, bodies), jmap-email-filter.c
 * (filters) and jmap-email-compose.c (composing drafts) */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "buf.h"
#include "hfield.h"
#include "jmap-email.h"
#include "jmap.h"
#include "strutil.h"
#include "xalloc.h"

/* header_end - the end of the header block within JE_HEADER_MAX bytes */
size_t header_end(const char *d, size_t len);

/* field_get - the value of the first (or, last, the last) field name */
bool field_get(const char *d, size_t hend, const char *name, bool last,
	       struct hfield *out);

bool want(const struct je_props *p, const char *name);

#endif
