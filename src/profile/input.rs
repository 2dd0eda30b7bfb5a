//! The profile as a person writes it, for its JSON Schema only
//! (`rtaudio-tuning schema profile`, schemas/profile.schema.json): editors
//! that read TOML with a schema (taplo, VS Code's Even Better TOML) complete
//! keys, show these descriptions and flag unknown keys and out-of-range values
//! as the user types. The parser in `parse.rs` stays the judge: it checks the
//! grammars no schema can say (kernel arguments, URLs, cross-key rules) and
//! reports every problem with its line and column. `tests/schema.rs` keeps the
//! two to the same keys, and runs taplo over the examples.

use std::collections::BTreeMap;

use schemars::JsonSchema;

/// A realtime audio workstation: one profile renders its kickstarts, package,
/// blueprint, bootc image and drop-ins. Every key has a default except
/// `version`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "rtaudio-tuning profile, version 1")]
#[allow(dead_code)]
pub struct ProfileInput {
    /// The profile format's version: this tool reads 1.
    #[schemars(range(min = 1, max = 1))]
    version: u32,
    /// Names the kickstarts, the blueprint and the image: a lowercase letter,
    /// then lowercase letters, digits and `-`, up to 32 (default "studio").
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,31}$"))]
    name: Option<String>,
    target: Option<Target>,
    kernel: Option<Kernel>,
    realtime: Option<Realtime>,
    /// People who make music on the machine; each is put in the realtime group.
    users: Option<Vec<User>>,
    cpu: Option<Cpu>,
    irq: Option<Irq>,
    /// sysctl.d values by key (`"vm.swappiness" = 10`), written as sysctl
    /// prints them (default: none).
    sysctl: Option<BTreeMap<String, SysctlValue>>,
    audio: Option<Audio>,
    packages: Option<Packages>,
    selinux: Option<Selinux>,
    rpm: Option<Rpm>,
}

/// The distribution the artifacts are for.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Target {
    /// Default fedora.
    distro: Option<Distro>,
    /// Fedora 42 to 46; the EL distributions: 10 (default 44).
    #[schemars(range(min = 10, max = 46))]
    release: Option<u32>,
    /// Default x86_64.
    arch: Option<Arch>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum Distro {
    Fedora,
    CentosStream,
    Almalinux,
    Rhel,
}

#[derive(JsonSchema)]
#[allow(dead_code, non_camel_case_types)]
enum Arch {
    x86_64,
    aarch64,
}

/// The kernel and its command line.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Kernel {
    /// rt: kernel-rt (PREEMPT_RT; on Fedora it needs `repo`); stock: the
    /// distribution kernel with preempt=full (default stock).
    flavor: Option<Flavor>,
    /// Where kernel-rt comes from: one https:// or file:/// URL ($releasever
    /// and $basearch allowed).
    repo: Option<String>,
    /// The signing key of `repo`: one https:// or file:/// URL.
    gpgkey: Option<String>,
    /// amd: amd_pstate=passive; intel: intel_pstate=disable; generic: neither
    /// (default generic).
    cpu: Option<CpuVendor>,
    /// More kernel arguments, one token each (default ["threadirqs"]).
    args: Option<Vec<String>>,
    /// CPUs for isolcpus, nohz_full and rcu_nocbs, kept from irqbalance: a
    /// cpu list such as "2-3".
    isolate_cpus: Option<String>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Flavor {
    Rt,
    Stock,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum CpuVendor {
    Amd,
    Intel,
    Generic,
}

/// The group that gets realtime limits, and the limits.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Realtime {
    /// Default "realtime".
    group: Option<String>,
    /// Its GID (default 71 for "realtime", as realtime-setup creates it).
    #[schemars(range(min = 1, max = 65533))]
    gid: Option<u32>,
    /// The highest SCHED_FIFO priority members may use (default 95).
    #[schemars(range(min = 1, max = 99))]
    rtprio: Option<u32>,
    /// Lockable memory: "unlimited" or KiB (default "unlimited").
    memlock: Option<Memlock>,
    /// The lowest nice value members may use (default -19).
    #[schemars(range(min = -20, max = 19))]
    nice: Option<i32>,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Memlock {
    Unlimited(UnlimitedWord),
    KiB(KiB),
}

/// A size in KiB, up to 4 PiB.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct KiB(#[schemars(range(min = 1, max = 4398046511104u64))] u64);

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum UnlimitedWord {
    Unlimited,
}

/// A musician's account.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct User {
    /// The login name.
    name: String,
    /// More groups than the realtime group (default ["audio"]).
    groups: Option<Vec<String>>,
    /// A crypt(3) hash (openssl passwd -6); without it the account is locked.
    password_hash: Option<String>,
    /// Authorized SSH public keys, one per line of authorized_keys.
    ssh_keys: Option<Vec<String>>,
}

/// The CPU frequency governor, and the services that fight over it.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Cpu {
    /// Set by cpupower.service (default performance).
    governor: Option<Governor>,
    /// disable: mask tuned, tuned-ppd and power-profiles-daemon; keep: leave
    /// them (default disable).
    conflicts: Option<Conflicts>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Governor {
    Performance,
    Schedutil,
    Ondemand,
    Conservative,
    Powersave,
    Userspace,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Conflicts {
    Disable,
    Keep,
}

/// irqbalance and IRQ thread priorities.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Irq {
    /// Run irqbalance (default true).
    balance: Option<bool>,
    /// IRQ numbers irqbalance must leave alone, from /proc/interrupts.
    ban: Option<Vec<IrqNumber>>,
    /// CPUs irqbalance must not route interrupts to: a cpu list such as "3".
    banned_cpus: Option<String>,
    /// SCHED_FIFO priorities for IRQ threads whose name contains `match`
    /// (rtirq's job); the first match wins.
    priority: Option<Vec<IrqPriority>>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct IrqNumber(#[schemars(range(min = 0, max = 65535))] u32);

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct IrqPriority {
    /// Part of the IRQ thread's name (snd, xhci_hcd, ...).
    #[serde(rename = "match")]
    pattern: String,
    /// 1 to 99; rtirq uses 90 down to 51.
    #[schemars(range(min = 1, max = 99))]
    prio: u32,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum SysctlValue {
    Integer(i64),
    Text(String),
    Boolean(bool),
    /// The dotted-key spelling: `vm.swappiness = 10` under [sysctl] (or
    /// [sysctl.vm] with `swappiness = 10`) is a table in TOML.
    Table(BTreeMap<String, SysctlValue>),
}

/// The audio server and its settings.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Audio {
    /// Default pipewire.
    server: Option<AudioServer>,
    /// The server's packages (default: its JACK support).
    packages: Option<Vec<String>>,
    /// default.clock.rate, in Hz (default 48000).
    rate: Option<Rate>,
    /// Rates the graph may switch to; must hold `rate` (default [rate]).
    allowed_rates: Option<Vec<Rate>>,
    /// default.clock.quantum: a power of two from 16 to 8192 frames
    /// (default 256).
    quantum: Option<Quantum>,
    /// default.clock.min-quantum (default 32).
    min_quantum: Option<Quantum>,
    /// default.clock.max-quantum (default 2048).
    max_quantum: Option<Quantum>,
    /// The data thread's SCHED_FIFO priority, at most realtime.rtprio
    /// (default 88).
    #[schemars(range(min = 1, max = 99))]
    rt_priority: Option<u32>,
    /// The server's nice level, at least realtime.nice (default -11).
    #[schemars(range(min = -20, max = 19))]
    nice: Option<i32>,
    /// false: HDA codecs stay powered, no clicks as they wake (default false).
    hda_power_save: Option<bool>,
    /// false: USB audio interfaces stay powered (default false).
    usb_autosuspend: Option<bool>,
    /// JACK's ALSA device: hw:CARD or hw:CARD,DEVICE (default "hw:0").
    device: Option<String>,
    /// JACK's periods: 2 for PCI cards, 3 for USB interfaces (default 2).
    #[schemars(range(min = 2, max = 8))]
    periods: Option<u32>,
    /// WirePlumber's ALSA settings for the nodes whose name matches.
    alsa: Option<Vec<AlsaNode>>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum AudioServer {
    Pipewire,
    Jack,
}

/// A sample rate PipeWire and ALSA devices use.
#[derive(JsonSchema)]
#[schemars(
    extend("enum" = [22050, 32000, 44100, 48000, 64000, 88200, 96000, 176400, 192000, 352800, 384000])
)]
#[allow(dead_code)]
struct Rate(u32);

/// A power of two from 16 to 8192 frames.
#[derive(JsonSchema)]
#[schemars(extend("enum" = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]))]
#[allow(dead_code)]
struct Quantum(u32);

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct AlsaNode {
    /// The node name as `wpctl status` shows it, `*` for any text.
    node: String,
    /// api.alsa.period-size, in frames.
    #[schemars(range(min = 16, max = 8192))]
    period_size: Option<u32>,
    /// api.alsa.headroom, in frames.
    #[schemars(range(min = 0, max = 8192))]
    headroom: Option<u32>,
}

/// Packages beyond the ones the profile implies.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Packages {
    /// More packages; "@group" for comps groups.
    install: Option<Vec<String>>,
    /// Packages to leave out.
    remove: Option<Vec<String>>,
}

/// Local SELinux policy modules, instead of permissive mode.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Selinux {
    module: Option<Vec<SelinuxModule>>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct SelinuxModule {
    /// The module's name, as in its `module NAME 1.0;` line.
    name: String,
    /// Its .te source, relative to the profile.
    file: String,
    /// Its file contexts (.fc), relative to the profile.
    fc: Option<String>,
}

/// The rtaudio-tuning package built from this profile.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Rpm {
    /// Raise it when the profile changes, so dnf upgrades the package
    /// (default 1).
    #[schemars(range(min = 1, max = 999999))]
    release: Option<u32>,
    /// Where the package's dnf repository is served (`rpm --repo`).
    repo_url: Option<String>,
    /// The armored public key that signs the package and the repository,
    /// relative to the profile.
    gpg_key: Option<String>,
}

/// The profile's JSON Schema (Draft 7, which taplo and VS Code's TOML
/// extensions read).
pub fn schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<ProfileInput>().to_value();
    without_null(&mut schema);
    schema
}

/// TOML has no null: an optional key is one left out. schemars writes an
/// `Option<T>` as "T or null" (`"type": [T, "null"]`, or `anyOf` of T and
/// null); here it becomes T, so that an editor completes T's values and a
/// wrong value is reported as what it is, not as "none of anyOf".
fn without_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(any)) = map.get("anyOf") {
                let rest: Vec<Value> = any
                    .iter()
                    .filter(|s| s.get("type").is_none_or(|t| t != "null"))
                    .cloned()
                    .collect();
                if rest.len() == 1 && rest.len() < any.len() {
                    map.remove("anyOf");
                    if let Value::Object(inner) = &rest[0] {
                        for (k, x) in inner {
                            map.entry(k.clone()).or_insert_with(|| x.clone());
                        }
                    }
                }
            }
            map.values_mut().for_each(without_null);
        }
        Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}
