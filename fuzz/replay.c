/* replay - run a fuzz target without libFuzzer: every file of the given
 * corpus directories, then a fixed number of deterministic mutations of
 * them, so gcc builds and CI exercise each parser on every run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (1024 * 1024)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct input {
	uint8_t *data;
	size_t size;
};

static struct input *inputs;
static size_t ninputs;

static void
load(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d;
	size_t n;

	if (f == NULL)
		return;
	d = malloc(REPLAY_MAX_INPUT);
	n = fread(d, 1, REPLAY_MAX_INPUT, f);
	fclose(f);
	inputs = realloc(inputs, (ninputs + 1) * sizeof(*inputs));
	inputs[ninputs].data = d;
	inputs[ninputs].size = n;
	ninputs++;
}

static void
load_arg(const char *arg)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (stat(arg, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		load(arg);
		return;
	}
	if ((d = opendir(arg)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", arg, e->d_name);
		load(path);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	long mutations = 2000;
	const char *env = getenv("FUZZ_MUTATIONS");

	if (env != NULL)
		mutations = strtol(env, NULL, 10);
	for (int i = 1; i < argc; i++)
		load_arg(argv[i]);
	for (size_t i = 0; i < ninputs; i++)
		LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].size);
	if (ninputs == 0) {
		
		inputs = calloc(1, sizeof(*inputs));
		inputs[0].data = calloc(1, 1);
		ninputs = 1;
	}
	uint8_t *buf = malloc(REPLAY_MAX_INPUT);
	for (long m = 0; m < mutations; m++) {
		struct input *in = &inputs[next() % ninputs];
		size_t size = in->size;
		memcpy(buf, in->data, size);
		int edits = 1 + (int)(next() % 8);
		for (int e = 0; e < edits; e++) {
			switch (next() % 5) {
			case 0: /* flip a byte */
				if (size)
					buf[next() % size] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 1: /* interesting byte */
				if (size) {
					static const uint8_t b[] = { 0, '\r', '\n', '"', '\\', '{',
					    '}', '(', ')', '.', ' ', 0xff, 0x80, ':', '<', '>', '@' };
					buf[next() % size] = b[next() % sizeof(b)];
				}
				break;
			case 2: /* truncate */
				if (size)
					size = next() % size;
				break;
			case 3: /* duplicate a chunk */
				if (size && size * 2 < REPLAY_MAX_INPUT) {
					size_t off = next() % size, len = next() % (size - off) + 1;
					memmove(buf + off + len, buf + off, size - off);
					size += len;
				}
				break;
			case 4: /* insert a byte */
				if (size + 1 < REPLAY_MAX_INPUT) {
					size_t off = size ? next() % size : 0;
					memmove(buf + off + 1, buf + off, size - off);
					buf[off] = (uint8_t)next();
					size++;
				}
				break;
			}
		}
		LLVMFuzzerTestOneInput(buf, size);
	}
	printf("%zu corpus inputs and %ld mutations ran\n", ninputs, mutations);
	free(buf);
	return 0;
}
