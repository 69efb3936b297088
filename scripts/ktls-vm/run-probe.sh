# First guest script of scripts/ktls-vm.sh's default run (run-petrel.sh
# follows), with the binaries on PATH: the petrel-ktls handoff tests (on a
# kernel with kTLS they take the offload branches), then the end-to-end
# ktls_probe (rustls on both ends). Its exit status is this script's verdict.

set -e
echo "KTLS-VM: running petrel-ktls handoff tests"
handoff --test-threads 1
echo "KTLS-VM: running ktls_probe"
ktls_probe
