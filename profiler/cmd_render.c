/* TODO: scorch render, being written; see the open issues. */
#include "profiler/cli.h"

int cmd_render(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	error("'render' is not built yet");
	return EXIT_FAIL;
}
