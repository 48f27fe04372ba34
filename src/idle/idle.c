/* idle - the stand-in for a service that is not built yet: it runs under
 * posternd like the others, but serves nothing and says so in `postern
 * status` (state "idle"). Built as postern-httpd, postern-listserv and
 * postern-popretr until those services exist. */
#include <stdio.h>

#include "log.h"
#include "service.h"

#ifndef IDLE_NAME
#error IDLE_NAME must name the service
#endif

static int
idle_init(struct service *svc)
{
	service_set_state(svc, "idle", "not implemented yet: this service "
	    "only runs idle and serves nothing");
	log_info("%s is not implemented yet; idling", IDLE_NAME);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = IDLE_NAME,
		.init = idle_init,
	};
	return service_main(argc, argv, &def);
}
