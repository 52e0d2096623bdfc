/* TODO: scorch report, being written; see the open issues. */
#include "profiler/cli.h"

int cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	error("'report' is not built yet");
	return EXIT_FAIL;
}
