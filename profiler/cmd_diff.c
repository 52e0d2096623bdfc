/* TODO: scorch diff, being written; see the open issues. */
#include "profiler/cli.h"

int cmd_diff(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	error("'diff' is not built yet");
	return EXIT_FAIL;
}
