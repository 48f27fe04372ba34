#ifndef POSTERN_SCHEMA_H
#define POSTERN_SCHEMA_H

/* schema_migrations[v-1] takes the database from schema v-1 to v. Never
 * edit a migration that has shipped: add a new one and bump
 * DB_SCHEMA_VERSION in db.h. */
extern const char *const schema_migrations[];

#endif
