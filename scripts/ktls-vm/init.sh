#!/bin/busybox sh
# /init of the kTLS test guest (scripts/ktls-vm.sh copies it into the
# initramfs). It prepares a minimal system, lets the kernel load the tls and
# crypto modules, runs /opt/ktls/run.sh, prints the result marker the host
# looks for, and powers off. It must never wait for input.

/bin/busybox --install -s /bin
export PATH=/opt/ktls/bin:/bin
mkdir -p /proc /sys /dev /tmp /sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The kernel runs /sbin/modprobe itself to load gcm, aesni-intel, chacha and
# friends on demand when TLS_TX/TLS_RX need them (modules.dep is in place).
ln -sf /bin/busybox /sbin/modprobe
ip link set lo up
# The kernel starts init at 1,024 open files (hard 4,096); petrel warns when
# the hard limit leaves less than maxclients' worth, and the guest scripts
# treat any warning as a failure. A host set up for a server has room.
ulimit -n 65536 || echo "KTLS-VM: cannot raise the open file limit"

echo "KTLS-VM: guest kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus"
if ! modprobe tls; then
    echo "KTLS-VM: modprobe tls failed"
fi

cd /opt/ktls
sh /opt/ktls/run.sh
rc=$?
if [ "$rc" -eq 0 ]; then
    echo "KTLS-VM: PASS"
else
    echo "KTLS-VM: FAIL (run.sh exited $rc)"
fi
sync
poweroff -f
