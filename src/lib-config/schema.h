#ifndef POSTERN_SCHEMA_H
#define POSTERN_SCHEMA_H

#include <stdbool.h>

/* the engines of the config store, as bits of schema_migration.engines */
#define SCHEMA_ENGINE_SQLITE 0x1u
#define SCHEMA_ENGINE_PG 0x2u

/* one migration: its SQL (the common dialect db.h describes), the engines
 * it is for and, for one made for some engines only, the tables it makes
 * there (a name prefix: a table and its shadow tables), which the others
 * do not have and which are not copied between engines (db-copy.c). A row
 * with only its SQL, { .sql = schema_vN }, is for every engine. */
struct schema_migration {
	const char *sql;
	unsigned engines;        /* SCHEMA_ENGINE_* bits; 0: every engine */
	const char *own_tables;  /* NULL: none */
};

/* schema_migrations[v-1] takes the database from schema v-1 to v. Never
 * edit a migration that has shipped: add a new one and bump
 * DB_SCHEMA_VERSION in db.h. */
extern const struct schema_migration schema_migrations[];

/* schema_migration_runs - whether migration m is for engine (one
 * SCHEMA_ENGINE_* bit); one that is not only moves the version on */
bool schema_migration_runs(const struct schema_migration *m,
			   unsigned engine);
/* schema_table_engine_own - whether a table was made by a migration
 * that is not for every engine (it has no twin on the others) */
bool schema_table_engine_own(const char *table);

#endif
