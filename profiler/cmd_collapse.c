/* TODO: scorch collapse, being written; see the open issues. */
#include "profiler/cli.h"

int cmd_collapse(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	error("'collapse' is not built yet");
	return EXIT_FAIL;
}
