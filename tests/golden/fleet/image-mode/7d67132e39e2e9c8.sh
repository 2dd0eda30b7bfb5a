#!/bin/bash
# What this host changes on top of the bootc image built from profile "studio":
# its drop-ins under /etc, its units, its accounts and its kernel arguments. Run
# it once, as root, on the running host at its first boot (cloud-init runcmd,
# your configuration management, or by hand); running it again changes nothing
# more. Kernel arguments apply from the next boot.
# Rendered by rtaudio-tuning 0.1.0: edit the inventory and re-render, not this file.
set -eu
install -d -m 0755 /etc/rtaudio-tuning/host
cat >/etc/rtaudio-tuning/host/irqbalance.env <<'RTAUDIO_TUNING_EOF'
# Environment for irqbalance.service, read through the drop-in
# irqbalance.service.d/rtaudio-tuning.conf.
# Rendered by rtaudio-tuning 0.1.0 from profile "studio".
#
# irqbalance has no configuration file of its own (there is no
# /etc/irqbalance/irqbalance.conf): it reads these variables. This file is read
# after /etc/sysconfig/irqbalance and overrides it; put further irqbalance
# options in IRQBALANCE_ARGS here.
# Interrupts irqbalance must leave where they are (irq.ban).
IRQBALANCE_ARGS="--banirq=42 --banirq=43"
RTAUDIO_TUNING_EOF
chmod 0644 /etc/rtaudio-tuning/host/irqbalance.env
install -d -m 0755 /etc/systemd/system/irqbalance.service.d
cat >/etc/systemd/system/irqbalance.service.d/rtaudio-tuning.host.conf <<'RTAUDIO_TUNING_EOF'
# This host's irqbalance.env, over the shared /etc/rtaudio-tuning/irqbalance.env: that file stays as the image
# or the package ships it, so their later changes to it keep applying.
[Service]
EnvironmentFile=/etc/rtaudio-tuning/host/irqbalance.env
RTAUDIO_TUNING_EOF
chmod 0644 /etc/systemd/system/irqbalance.service.d/rtaudio-tuning.host.conf
systemctl daemon-reload
# Running units read this host's files from now on.
systemctl try-restart irqbalance.service
# Kernel arguments of this host beyond the image's kargs.d: kept across image
# updates, applied at the next boot. Old values go first, then the new ones
# (a changed value is a removal and an addition).
changed=0
if rpm-ostree kargs --unchanged-exit-77 --append-if-missing=amd_pstate=passive; then
    changed=1
else
    status=$?
    [ "$status" -eq 77 ] || exit "$status"
fi
if [ "$changed" -eq 1 ]; then
    echo "kernel arguments changed: reboot to apply them" >&2
fi
