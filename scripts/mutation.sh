#!/usr/bin/env bash
# Mutation testing with mutmut (not in CI: it runs the tests once per mutant).
#
#   scripts/mutation.sh MODULE... [-- TEST_PATH...]
#
# MODULE is a dotted module or a path (fhir_server.search.params.string,
# fhir_server/interactions/common.py, or a package directory: every .py file in it).
# TEST_PATH are the tests to run against the mutants (default: tests/unit tests/api
# tests/storage); give the relevant tests only, since mutmut first runs them all once to
# learn which test reaches which function, then runs per mutant only the tests that reach it.
# The PostgreSQL half is left out (-k "not postgresql"): a mutant of Python code is killed
# or not alike on both databases, and the run is half as long.
#
# The run happens in a copy of the checkout under a temporary directory (mutmut writes a
# mutants/ tree and reads its settings from pyproject.toml), so the checkout is untouched.
# It prints the mutants that survived and, per module, killed/total and the kill rate (a timeout
# counts as killed); the mutmut state stays in the printed directory for `mutmut show NAME`
# (run it there).
#
# Environment: MUTATION_JOBS (default 2) parallel mutants; MUTATION_KEEP=0 removes the copy
# afterwards; MUTATION_ONLY="PATTERN..." runs only the mutants whose names match (fnmatch, e.g.
# "*follow_up_rules.x_judge__mutmut_*": mutmut names a mutant module.x_function__mutmut_N).
set -euo pipefail

checkout="$(cd "$(dirname "$0")/.." && pwd)"
mutmut="${MUTMUT:-$checkout/.venv/bin/mutmut}"
jobs="${MUTATION_JOBS:-2}"
[ -x "$mutmut" ] || { echo "mutmut not found at $mutmut (.venv/bin/pip install mutmut)" >&2; exit 2; }

modules=()
tests=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; tests=("$@"); break; fi
  modules+=("$1"); shift
done
[ ${#modules[@]} -gt 0 ] || { sed -n '2,22p' "$0" >&2; exit 2; }
[ ${#tests[@]} -gt 0 ] || tests=(tests/unit tests/api tests/storage)

files=()
for module in "${modules[@]}"; do
  path="$module"
  case "$path" in *.py|*/) ;; *) [ -d "$checkout/$path" ] || path="${path//.//}.py" ;; esac
  if [ -d "$checkout/$path" ]; then
    while IFS= read -r f; do files+=("${f#"$checkout"/}"); done < <(find "$checkout/${path%/}" -name '*.py' | sort)
  elif [ -f "$checkout/$path" ]; then
    files+=("$path")
  else
    echo "no such module: $module" >&2; exit 2
  fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/jiayi-mutation.XXXXXX")"
copy="$work/jiayi"
mkdir -p "$copy"
for part in fhir_server adapters benchmarks scripts tests mappings profiles pyproject.toml setup.py; do
  cp -a "$checkout/$part" "$copy/"
done
find "$copy" -name __pycache__ -prune -exec rm -rf {} +
# the tests find ../shared beside the directory they run in (mutants/)
[ -d "$checkout/../shared" ] && ln -s "$(cd "$checkout/../shared" && pwd)" "$copy/shared"

toml_list() { local out="" x; for x in "$@"; do out+="\"$x\", "; done; echo "[${out%, }]"; }
cat >>"$copy/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["fhir_server", "adapters"]
only_mutate = $(toml_list "${files[@]}")
also_copy = ["benchmarks", "scripts", "mappings", "profiles", "setup.py", "shared"]
pytest_add_cli_args = ["-p", "no:randomly", "-p", "no:cacheprovider", "-q", "-k", "not postgresql"]
pytest_add_cli_args_test_selection = $(toml_list "${tests[@]}")
EOF

echo "mutating ${#files[@]} file(s) in $copy with tests: ${tests[*]}" >&2
cd "$copy"
set +e
# shellcheck disable=SC2086  # MUTATION_ONLY is a list of patterns
"$mutmut" run --max-children "$jobs" ${MUTATION_ONLY:-} >"$work/run.log" 2>&1
status=$?
set -e
[ "$status" -eq 0 ] || echo "mutmut run exited with $status (see $work/run.log)" >&2
# mutants not run (outside MUTATION_ONLY) or skipped are left out of the counts
"$mutmut" results --all true | grep -v ": not checked$\|: skipped$" >"$work/results.txt" || true

echo
echo "survived (or not reached by any test):"
grep -v ": killed$" "$work/results.txt" || echo "    none"
echo
printf '%-52s %8s %8s %8s\n' module killed total rate
for f in "${files[@]}"; do
  key="$(echo "${f%.py}" | tr / .)"
  total=$(grep -c "^ *$key\.x" "$work/results.txt" || true)
  killed=$(grep "^ *$key\.x" "$work/results.txt" | grep -c ": killed$\|: timeout$" || true)
  [ "$total" -gt 0 ] || continue
  printf '%-52s %8d %8d %7.1f%%\n' "$key" "$killed" "$total" "$(echo "100 * $killed / $total" | bc -l)"
done
echo
echo "mutmut state: $copy (cd there and run: $mutmut show NAME)"
[ "${MUTATION_KEEP:-1}" = "1" ] || rm -rf "$work"
exit "$status"
