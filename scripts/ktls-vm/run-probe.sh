# Default test run of scripts/ktls-vm.sh, executed by the guest's /init with
# the binaries on PATH: the petrel-ktls handoff tests (on a kernel with kTLS
# they take the offload branches), then the end-to-end ktls_probe. Its exit
# status decides the run.

set -e
echo "KTLS-VM: running petrel-ktls handoff tests"
handoff --test-threads 1
echo "KTLS-VM: running ktls_probe"
ktls_probe
