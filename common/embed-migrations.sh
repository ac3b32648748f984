#!/usr/bin/env bash
# embed-migrations.sh SERVICE DIR - print a C file that carries DIR/NNN_name.sql
# as a kt_migration_t list named SERVICE_migrations. Run by the build; the
# output goes to build/gen/, never into the tree.
set -euo pipefail
svc=$1
dir=$2
printf '/* generated from %s by common/embed-migrations.sh: do not edit */\n' "$dir"
printf '#include "kt_pg.h"\n\n'
files=$(find "$dir" -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' -printf '%f\n' | LC_ALL=C sort)
n=0
for f in $files; do
    printf 'static const char s_m%d[] = {' "$n"
    od -An -v -tx1 "$dir/$f" | tr -s ' \n' ' ' | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
    printf '0x00};\n'
    n=$((n + 1))
done
printf '\nconst kt_migration_t %s_migrations[] = {\n' "$svc"
n=0
for f in $files; do
    printf '    {%d, "%s", s_m%d},\n' "$((10#${f:0:3}))" "$f" "$n"
    n=$((n + 1))
done
printf '    {0, NULL, NULL},\n};\n'
