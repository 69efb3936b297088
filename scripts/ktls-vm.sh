#!/usr/bin/env bash
# Boots a stock Debian cloud kernel (which has kernel TLS) under QEMU and runs
# test binaries inside it, because the development machines' kernel has no
# kTLS. Follows ../shared/ktls-vm.md: software emulation (-accel tcg -cpu max),
# busybox initramfs, the kernel's crypto/arch/net/lib modules with a
# modules.dep built by depmod.
#
# Usage: scripts/ktls-vm.sh [--script FILE]... [--file PATH]... [--timeout SECS]
#                           [--memory MB] [--cpus N] [[NAME=]BINARY]...
#
#   BINARY        copied to /opt/ktls/bin (on the guest's PATH) as NAME, or
#                 under its own file name; its shared libraries (ldd) go along.
#                 The guest shell is busybox, which runs its own applet for a
#                 name it knows (env, nc, ...): call such a binary by its full
#                 path, /opt/ktls/bin/NAME.
#   --script FILE shell script the guest runs from /opt/ktls; repeat for
#                 several, run in order (each runs even if an earlier failed).
#                 The run passes only if every script exits 0. With BINARY
#                 and no --script: scripts/ktls-vm/run-probe.sh.
#   --file PATH   extra file (certificates, config) copied to /opt/ktls/.
#   --timeout S   limit for the guest run (default 600).
#   --memory MB   guest memory (default 1024).
#   --cpus N      guest CPUs (default 2); emulated, so more than the host
#                 has only makes each slower.
#
# With no BINARY and no --script, runs both proofs with the debug build that
# `cargo build --workspace --all-targets` leaves (a no-op after
# scripts/test.sh's build step):
#   scripts/ktls-vm/run-probe.sh   the petrel-ktls handoff tests and the
#                                  ktls_probe example (rustls on both ends);
#   scripts/ktls-vm/run-petrel.sh  the real petrel server with redis-cli and
#                                  the pipelined_client example as peers;
#   scripts/ktls-vm/run-replication.sh  two petrel nodes, one a Replica Of
#                                  the other over TLS: the source's link stays
#                                  in kernel TLS across its move to the sync ring.
# Exits 0 only if the guest printed "KTLS-VM: PASS"; 1 if the run failed; 2 if
# the VM could not be set up. Caches the kernel and module tree in
# target/ktls-vm (KTLS_VM_CACHE overrides). Runs unattended: no stdin, no KVM.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${KTLS_VM_CACHE:-$repo/target/ktls-vm}"
scripts=()
timeout_secs=600
memory_mb=1024
cpus=2
binaries=()
files=()

say() { printf 'ktls-vm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --script) scripts+=("$2"); shift 2 ;;
        --file) files+=("$2"); shift 2 ;;
        --timeout) timeout_secs="$2"; shift 2 ;;
        --memory) memory_mb="$2"; shift 2 ;;
        --cpus) cpus="$2"; shift 2 ;;
        -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) binaries+=("$1"); shift ;;
    esac
done
defaults=no
if [ ${#scripts[@]} -eq 0 ] && [ ${#binaries[@]} -eq 0 ]; then
    defaults=yes
    scripts=("$repo/scripts/ktls-vm/run-probe.sh" "$repo/scripts/ktls-vm/run-petrel.sh"
        "$repo/scripts/ktls-vm/run-replication.sh")
elif [ ${#scripts[@]} -eq 0 ]; then
    scripts=("$repo/scripts/ktls-vm/run-probe.sh")
fi
for script in "${scripts[@]}"; do
    [ -f "$script" ] || die "no guest script at $script"
done
exec </dev/null
started=$(date +%s)

# 1. Host tools.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
# grep without -q reads to the end: an early exit would fail the pipe (pipefail).
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -x cpio >/dev/null || need+=(busybox-static)
command -v depmod >/dev/null || need+=(kmod)
[ "$defaults" = no ] || command -v redis-cli >/dev/null || need+=(redis-tools)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
fi

# 2. Kernel: the package linux-image-cloud-amd64 depends on, downloaded once.
mkdir -p "$cache"
shopt -s nullglob
kernel_package() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        awk '/Depends: linux-image/ && !found {print $2; found = 1}' || true
}
debs=("$cache"/linux-image-*-cloud-amd64_*.deb)
deb="${debs[0]:-}"
if [ -z "$deb" ]; then
    package="$(kernel_package)"
    if [ -z "$package" ]; then
        say "apt lists lack linux-image-cloud-amd64; running apt-get update"
        apt-get update -qq >/dev/null || die "apt-get update failed"
        package="$(kernel_package)"
    fi
    [ -n "$package" ] || die "cannot find the Debian cloud kernel package"
    say "downloading $package"
    (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$package") || die "apt-get download $package failed"
    debs=("$cache"/linux-image-*-cloud-amd64_*.deb)
    deb="${debs[0]:-}"
    [ -n "$deb" ] || die "apt-get download left no .deb in $cache"
fi
kernel_tree="$cache/kernel"
if [ ! -d "$kernel_tree/boot" ]; then
    say "extracting $(basename "$deb")"
    rm -rf "$kernel_tree.tmp" && dpkg-deb -x "$deb" "$kernel_tree.tmp" && mv "$kernel_tree.tmp" "$kernel_tree"
fi
kernels=("$kernel_tree"/boot/vmlinuz-*)
vmlinuz="${kernels[0]:-}"
[ -n "$vmlinuz" ] || die "no vmlinuz in $kernel_tree/boot"
version="${vmlinuz##*/vmlinuz-}"

# 3. Module tree with modules.dep (the package ships none, and without it the
#    kernel cannot load gcm, aesni-intel, ghash-clmulni-intel on demand).
modules="$cache/modules-$version"
if [ ! -f "$modules/lib/modules/$version/modules.dep" ]; then
    say "building the module tree for $version"
    rm -rf "$modules.tmp"
    src="$kernel_tree/lib/modules/$version"
    dst="$modules.tmp/lib/modules/$version"
    mkdir -p "$dst/kernel"
    for dir in crypto arch net lib; do
        cp -a "$src/kernel/$dir" "$dst/kernel/"
    done
    cp -a "$src"/modules.order "$src"/modules.builtin* "$dst/"
    depmod -b "$modules.tmp" "$version" || die "depmod failed"
    rm -rf "$modules" && mv "$modules.tmp" "$modules"
fi

# 4. Test binaries: by default petrel, the petrel-ktls handoff tests and
#    examples (debug: the build scripts/test.sh already made), and redis-cli.
#    The whole workspace is built, as scripts/test.sh does, so that cargo's
#    feature unification matches and nothing is compiled twice.
if [ "$defaults" = yes ]; then
    say "building the workspace (debug, all targets)"
    cd "$repo"
    build_json="$(cargo build -q --locked --workspace --all-targets --message-format=json)" ||
        die "cargo build failed"
    # executable KIND NAME: path of the artifact of that target kind and name.
    # A bin target's unit-test harness has the same kind and name as the bin
    # itself; only the profile's "test" flag tells them apart.
    executable() {
        local harness=false
        [ "$1" = test ] && harness=true
        printf '%s\n' "$build_json" |
            grep -F "\"kind\":[\"$1\"]" | grep -F "\"name\":\"$2\"" |
            grep -F "\"test\":$harness" |
            sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
    }
    for spec in bin:petrel example:ktls_probe example:pipelined_client test:handoff; do
        path="$(executable "${spec%%:*}" "${spec#*:}")"
        [ -n "$path" ] && [ -x "$path" ] || die "cargo produced no executable for ${spec/:/ }"
        binaries+=("${spec#*:}=$path")
    done
    binaries+=("redis-cli=$(command -v redis-cli)")
fi

# 5. Initramfs, in a temporary directory removed on exit.
work="$(mktemp -d "${TMPDIR:-/tmp}/ktls-vm.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/bin" "$root/opt/ktls/bin" "$root/opt/ktls/scripts" "$root/lib/modules"
cp -a "$modules/lib/modules/$version" "$root/lib/modules/"
cp /bin/busybox "$root/bin/busybox"
cp "$repo/scripts/ktls-vm/init.sh" "$root/init"
chmod 755 "$root/init"
# run.sh runs every script in order, each from /opt/ktls, and reports each.
{
    echo '# Generated by scripts/ktls-vm.sh: runs each guest script in order.'
    echo 'failed=0'
    for script in "${scripts[@]}"; do
        name="$(basename "$script")"
        cp "$script" "$root/opt/ktls/scripts/$name"
        echo "echo 'KTLS-VM: running $name'"
        echo "cd /opt/ktls && sh /opt/ktls/scripts/$name"
        echo "rc=\$?"
        echo "if [ \$rc -eq 0 ]; then echo 'KTLS-VM: PASS $name'; else echo \"KTLS-VM: FAIL $name (exit \$rc)\"; failed=1; fi"
    done
    echo 'exit $failed'
} >"$root/opt/ktls/run.sh"
for file in ${files[@]+"${files[@]}"}; do
    cp -L "$file" "$root/opt/ktls/" || die "cannot copy $file"
done
copy_with_parents() { mkdir -p "$root$(dirname "$1")" && cp -L "$1" "$root$1"; }
for spec in "${binaries[@]}"; do
    case "$spec" in
        *=*) name="${spec%%=*}"; path="${spec#*=}" ;;
        *) name="$(basename "$spec")"; path="$spec" ;;
    esac
    [ -x "$path" ] || die "no executable at $path"
    cp -L "$path" "$root/opt/ktls/bin/$name"
    # Debug info only makes the initramfs bigger and slower to unpack.
    if command -v strip >/dev/null; then strip --strip-debug "$root/opt/ktls/bin/$name"; fi
    # ldd lists "name => /path (addr)" and "/path (addr)"; static binaries
    # print "not a dynamic executable", which leaves nothing to copy.
    for lib in $(ldd "$path" 2>/dev/null | grep -o '/[^ ]*' || true); do
        [ -e "$root$lib" ] || copy_with_parents "$lib"
    done
    say "added $name ($(du -h "$root/opt/ktls/bin/$name" | cut -f1))"
done
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"
say "initramfs $(du -h "$work/initrd.gz" | cut -f1), kernel $version"

# 6. Boot. Software emulation: -enable-kvm hangs (nested virtualisation) and
#    -cpu host fails; -cpu max gives the guest AES-NI and PCLMUL.
log="$cache/last-run.log"
say "booting the guest (timeout ${timeout_secs}s, log $log)"
booted=$(date +%s)
set +e
timeout --kill-after=10 "$timeout_secs" qemu-system-x86_64 \
    -accel tcg -cpu max -m "$memory_mb" -smp "$cpus" \
    -nographic -no-reboot \
    -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet" \
    2>&1 | tr -d '\r' | tee "$log"
status=${PIPESTATUS[0]}
set -e

elapsed=$(( $(date +%s) - started ))
say "results (guest ran $(( $(date +%s) - booted ))s):"
grep -E '^KTLS-VM: (PASS|FAIL) ' "$log" | sed 's/^/  /' >&2 || say "  (no script reported)"
if grep -qx 'KTLS-VM: PASS' "$log"; then
    say "PASS in ${elapsed}s"
    exit 0
fi
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    say "FAIL: the guest did not finish within ${timeout_secs}s"
else
    say "FAIL: no success marker from the guest (qemu exit $status) after ${elapsed}s"
fi
exit 1
