#ifndef POSTERN_AUTODISCOVER_XML_H
#define POSTERN_AUTODISCOVER_XML_H

#include <stddef.h>

/* The one thing read from an Outlook autodiscover request (POX schema
 * .../outlook/requestschema/2006): the text of its EMailAddress element.
 * A bounded scan, not an XML parser: no entities, no DTD, no external
 * anything, so none of XML's attacks apply. */

#define AUTODISCOVER_REQUEST_MAX 65536
#define AUTODISCOVER_EMAIL_MAX 320

/* autodiscover_request_email - the first EMailAddress element's text
 * (any namespace prefix, whitespace trimmed) into out: 0, or -1 when the
 * request is too long, has none, or it is empty, too long or holds '<',
 * '&' or control characters. */
int autodiscover_request_email(const char *xml, size_t len, char *out,
			       size_t size);

#endif
