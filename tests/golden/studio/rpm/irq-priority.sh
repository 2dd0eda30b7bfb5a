# shellcheck shell=sh
# Raise the SCHED_FIFO priority of the IRQ threads of audio interfaces, as rtirq
# does. Run as `/bin/sh FILE` by rtaudio-irq-priority.service at boot, and by
# rtaudio-irq-priority@.service whenever a sound card or USB device appears (the
# udev rule) and after every resume from sleep; it lives under /etc so the
# priority table stays the admin's to adjust.
# Rendered by rtaudio-tuning 0.1.0 from profile "studio".
#
# Each rule: a pattern matched against an IRQ's action names
# (/sys/kernel/irq/N/actions, as /proc/interrupts shows them) and a priority.
# The first matching rule wins. IRQ threads (irq/N-name) exist only with
# threadirqs or a PREEMPT_RT kernel.
RULES='
snd 90
xhci_hcd 85
'

rule_for() {
    while read -r pattern prio; do
        [ -n "$pattern" ] || continue
        case "$1" in
        *"$pattern"*)
            echo "$prio"
            return
            ;;
        esac
    done <<RULES_EOF
$RULES
RULES_EOF
}

status=0
raised=0
for task in /proc/[0-9]*; do
    { read -r comm <"$task/comm"; } 2>/dev/null || continue
    case "$comm" in
    irq/*-*) ;;
    *) continue ;;
    esac
    # Only kernel threads (children of kthreadd, PID 2): any process can name
    # itself irq/N-x, and must not get SCHED_FIFO from root for it.
    ppid=$(sed -n 's/^PPid:[[:space:]]*//p' "$task/status" 2>/dev/null)
    [ "$ppid" = 2 ] || continue
    irq=${comm#irq/}
    irq=${irq%%-*}
    case "$irq" in
    '' | *[!0-9]*) continue ;;
    esac
    { read -r actions <"/sys/kernel/irq/$irq/actions"; } 2>/dev/null || continue
    prio=$(rule_for "$actions")
    [ -n "$prio" ] || continue
    if chrt -f -p "$prio" "${task#/proc/}" >/dev/null; then
        echo "irq/$irq ($actions): SCHED_FIFO priority $prio"
        raised=$((raised + 1))
    else
        echo "irq/$irq ($actions): chrt failed" >&2
        status=1
    fi
done
if [ "$raised" -eq 0 ]; then
    echo "no IRQ thread matched; IRQ threads need threadirqs or a PREEMPT_RT kernel"
fi
exit "$status"
