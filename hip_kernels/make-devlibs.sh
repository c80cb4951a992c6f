#!/usr/bin/env bash
# Makes a ROCm device-library folder for clang: Debian's bitcode (rocm-device-libs 5.2)
# plus the ISA-version files it lacks for gfx1100 and gfx942, each a one-constant module
# made from the gfx1036 one (../shared/TOOLCHAIN.md §5.1). Usage: make-devlibs.sh DIR
set -euo pipefail
dir="$1"
src=/usr/lib/x86_64-linux-gnu/amdgcn/bitcode
[ -d "$src" ] || { echo "make-devlibs: $src is missing (apt-get install rocm-device-libs)" >&2; exit 1; }
mkdir -p "$dir"
for f in "$src"/*.bc; do ln -sf "$f" "$dir/"; done
for v in 1100:11000 942:9402; do
  name=${v%%:*} value=${v##*:}
  [ -e "$dir/oclc_isa_version_$name.bc" ] && continue
  llvm-dis-15 -o - "$src/oclc_isa_version_1036.bc" | sed "s/constant i32 10306/constant i32 $value/" \
    | llvm-as-15 -o "$dir/oclc_isa_version_$name.bc" -
done
