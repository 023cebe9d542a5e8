#!/usr/bin/env bash
# Java 17+ is the one prerequisite; say so in one line when it is missing.
set -euo pipefail
if ! command -v java >/dev/null 2>&1; then
  echo "error: Java 17+ is required (Spark runs on the JVM); install OpenJDK 17, e.g. 'apt-get install openjdk-17-jre-headless'." >&2
  exit 1
fi
major=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}')
if [ -z "$major" ] || [ "$major" -lt 17 ]; then
  echo "error: Java 17+ is required, found Java ${major:-unknown}; install OpenJDK 17." >&2
  exit 1
fi
