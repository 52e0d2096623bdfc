#!/bin/sh
# make demo: compiles the bundled demo workload (test/fixtures/demo.c) with gcc -O2,
# records it with ./scorch into demo.svg and says where it is. make has built
# ./scorch already.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/demo
gcc -O2 -g -o build/demo/demo test/fixtures/demo.c -lm
./scorch record -F 999 -o demo.svg --title "scorch demo: a toy build pipeline" -- build/demo/demo 2
echo "demo: open $(pwd)/demo.svg in a browser (click to zoom, Ctrl-F to search)"
