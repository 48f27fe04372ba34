/* autodiscover-xml - the e-mail address of an Outlook autodiscover
 * request (autodiscover-xml.h) */
#include <stdbool.h>
#include <string.h>

#include "autodiscover-xml.h"

static bool
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '-' || c == '.';
}

int
autodiscover_request_email(const char *xml, size_t len, char *out, size_t size)
{
	static const char want[] = "EMailAddress";
	size_t i = 0;

	if (len > AUTODISCOVER_REQUEST_MAX || size == 0)
		return -1;
	while (i < len) {
		const char *lt = memchr(xml + i, '<', len - i);
		if (lt == NULL)
			return -1;
		i = (size_t)(lt - xml) + 1;
		size_t s = i;
		while (i < len && is_name_char(xml[i]))
			i++;
		if (i == s || i >= len)
			continue;    /* an end tag, comment, PI: skipped */
		/* the local name: after the last ':' */
		size_t ls = s;
		for (size_t k = s; k < i; k++)
			if (xml[k] == ':')
				ls = k + 1;
		if (i - ls != sizeof(want) - 1 || memcmp(xml + ls, want, i - ls) != 0)
			continue;
		/* attributes (none expected) up to '>' */
		const char *gt = memchr(xml + i, '>', len - i);
		if (gt == NULL || (gt > xml + i && gt[-1] == '/'))
			return -1;
		size_t b = (size_t)(gt - xml) + 1, e = b;
		while (e < len && xml[e] != '<')
			e++;
		if (e >= len)
			return -1;
		while (b < e && (xml[b] == ' ' || xml[b] == '\t' || xml[b] == '\r' ||
		    xml[b] == '\n'))
			b++;
		while (e > b && (xml[e - 1] == ' ' || xml[e - 1] == '\t' ||
		    xml[e - 1] == '\r' || xml[e - 1] == '\n'))
			e--;
		if (e == b || e - b > AUTODISCOVER_EMAIL_MAX || e - b >= size)
			return -1;
		for (size_t k = b; k < e; k++)
			if ((unsigned char)xml[k] < 0x21 || xml[k] == '&' ||
			    xml[k] == 0x7f)
				return -1;
		memcpy(out, xml + b, e - b);
		out[e - b] = '\0';
		return 0;
	}
	return -1;
}
