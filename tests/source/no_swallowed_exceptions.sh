#!/usr/bin/env bash
# Fails when spruce's own code catches every exception and drops it: a
# `catch (...)` must hand what it caught on (std::current_exception(), or
# throw) within the few lines after it. Catching everything hides
# std::bad_alloc and logic errors that must reach the caller.
#   no_swallowed_exceptions.sh SOURCE_DIR
set -euo pipefail
cd "$1"
bad=0
while IFS=: read -r file line _; do
  if ! sed -n "${line},$((line + 4))p" "$file" |
      grep -q -e 'current_exception' -e 'throw'; then
    echo "$file:$line: catch (...) drops what it caught" >&2
    bad=1
  fi
done < <(grep -rn --include='*.cc' --include='*.h' 'catch (\.\.\.)' \
           runtime kernels converters tools fuzz examples || true)
exit $bad
