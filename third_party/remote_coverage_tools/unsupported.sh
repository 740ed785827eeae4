#!/bin/sh
echo "remote coverage tools are not available in Tollgate's offline build" >&2
exit 1
