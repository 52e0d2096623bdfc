/* TODO: scorch record, being written; see the open issues. */
#include "profiler/cli.h"

int cmd_record(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	error("'record' is not built yet");
	return EXIT_FAIL;
}
