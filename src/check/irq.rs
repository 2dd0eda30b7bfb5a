//! Interrupt lines of sound cards and USB controllers.

use super::context::Context;
use super::parse;
use super::{Status, Verdict};

pub(super) fn shared(cx: &Context) -> Verdict {
    let Ok(text) = cx.m.read("/proc/interrupts") else {
        return Verdict::new(Status::NotApplicable, "/proc/interrupts cannot be read");
    };
    let mut shared = Vec::new();
    let mut alone = Vec::new();
    for line in parse::interrupts(&text) {
        let audio = line.devices.iter().any(|d| {
            let d = d.to_lowercase();
            d.starts_with("snd_")
                || d.starts_with("audiodsp")
                || d.starts_with("xhci_hcd")
                || d.starts_with("ehci_hcd")
                || d.starts_with("uhci_hcd")
        });
        if !audio {
            continue;
        }
        if line.devices.len() > 1 {
            shared.push(format!("IRQ {}: {}", line.irq, line.devices.join(", ")));
        } else {
            alone.push(format!("IRQ {}: {}", line.irq, line.devices[0]));
        }
    }
    if shared.is_empty() && alone.is_empty() {
        return Verdict::new(
            Status::NotApplicable,
            "no sound card or USB controller interrupt found",
        );
    }
    let c = if shared.is_empty() {
        Verdict::new(Status::Pass, "sound and USB interrupts are not shared")
    } else {
        Verdict::new(
            Status::Warn,
            format!(
                "{} sound/USB interrupt(s) shared with other devices",
                shared.len()
            ),
        )
        .fix("move the interface to another port or slot, or enable MSI for the device")
    };
    shared
        .into_iter()
        .chain(alone)
        .fold(c, |c, e| c.evidence(e))
}
