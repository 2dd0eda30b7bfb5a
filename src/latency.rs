//! `latency`: measure this machine's wake-up latency the way cyclictest
//! (rt-tests) does, and judge it against an audio buffer period.
//!
//! The method is cyclictest's `timerthread()`: one thread per CPU, pinned to
//! it, at SCHED_FIFO, sleeping with an absolute
//! `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` to the next multiple of the
//! interval. The latency of a wake-up is the time it was seen minus the time it
//! was asked for. Like `cyclictest -m` the process locks its memory, and like
//! cyclictest's default (without `--default-system`) it holds
//! `/dev/cpu_dma_latency` at 0 while it runs, so that deep C-states do not add
//! their exit latency. An audio server's period thread wakes the same way, so the
//! worst case measured here is the part of a period the machine itself eats.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::UserError;

/// Latencies above this are overflows: counted apart, and recorded at this
/// value so that the percentiles still rank them. 100 ms is longer than any
/// audio period in use (4096 frames at 44.1 kHz is 93 ms); cyclictest's `-h US`
/// bound plays the same part.
const HIST_TOP_NS: u64 = 100_000_000;
/// Three significant figures: 0.1% resolution (64 ns around 61 us), in about
/// 150 KiB per thread.
const HIST_SIGFIG: u8 = 3;
const NS_PER_US: u64 = 1_000;
const NS_PER_SEC: u64 = 1_000_000_000;
/// The rate assumed when only a buffer size is given.
const DEFAULT_RATE_HZ: u32 = 48_000;

/// What to measure; the CLI fills it from its flags.
#[derive(Debug, Clone)]
pub struct Options {
    pub duration: Duration,
    pub interval_us: u64,
    /// SCHED_FIFO priority of the measuring threads.
    pub priority: i32,
    /// `None`: every CPU this process may run on.
    pub cpus: Option<Vec<usize>>,
    /// With `rate_hz`, the audio period to judge the result against.
    pub buffer_frames: Option<u32>,
    /// 48000 when only `buffer_frames` is given.
    pub rate_hz: Option<u32>,
    /// Write a cyclictest `-h` style histogram there.
    pub histogram: Option<PathBuf>,
    pub json: bool,
    /// Refresh a progress line on stderr about once a second.
    pub progress: bool,
}

impl Default for Options {
    /// The CLI's defaults.
    fn default() -> Self {
        Options {
            duration: Duration::from_secs(10),
            interval_us: 1000,
            priority: 80,
            cpus: None,
            buffer_frames: None,
            rate_hz: None,
            histogram: None,
            json: false,
            progress: false,
        }
    }
}

/// One measuring thread's figures, in microseconds.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ThreadResult {
    pub cpu: usize,
    pub samples: u64,
    pub min_us: f64,
    pub avg_us: f64,
    pub p99_us: f64,
    pub p99_9_us: f64,
    pub max_us: f64,
    /// Wake-ups later than the histogram's top (100 ms).
    pub overflows: u64,
    /// Whether this thread ran at SCHED_FIFO.
    pub fifo: bool,
}

/// The audio period the result is judged against.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Period {
    pub frames: u32,
    pub rate_hz: u32,
    pub period_us: f64,
    /// The overall maximum latency as a percentage of the period.
    pub max_percent: f64,
}

impl Period {
    fn new(frames: u32, rate_hz: u32, max_us: f64) -> Period {
        let period_us = period_us(frames, rate_hz);
        Period {
            frames,
            rate_hz,
            period_us,
            max_percent: max_us / period_us * 100.0,
        }
    }
}

/// `latency --json`, schema 1: the measurement, or why there is none.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Document<'a> {
    Measured(&'a Measurement),
    Failed {
        /// Why nothing was measured.
        error: String,
    },
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Measurement {
    /// Measured the way a realtime audio thread runs: SCHED_FIFO on every
    /// thread and the memory locked. Without it the figures say little.
    pub realtime: bool,
    /// What could not be done, and why.
    pub limitations: Vec<String>,
    pub interval_us: u64,
    pub duration_s: f64,
    pub priority: i32,
    /// Over all threads.
    pub max_us: f64,
    pub p99_us: f64,
    pub period: Option<Period>,
    pub threads: Vec<ThreadResult>,
    /// The threads' histograms (in ns), in `threads` order, for `--histogram`.
    #[serde(skip)]
    histograms: Vec<Histogram<u64>>,
}

/// Measure, print the report (text or JSON) and return the exit code: 0 when
/// measured as a realtime thread runs and within the period it was judged
/// against; 1 when it could not run realtime, when its worst case is longer
/// than that period (xruns), or when no measurement could be made. Invalid
/// options are errors carrying [`UserError`].
pub fn run(o: &Options) -> anyhow::Result<i32> {
    // Create the histogram file first: a wrong path should not cost a full run.
    let histogram_file = match &o.histogram {
        Some(path) => Some(File::create(path).map_err(|e| {
            UserError(format!(
                "cannot write the histogram to {}: {}",
                path.display(),
                describe(&e)
            ))
        })?),
        None => None,
    };
    let m = match measure(o) {
        Ok(m) => m,
        Err(e) if e.downcast_ref::<UserError>().is_some() => return Err(e),
        Err(e) => {
            if o.json {
                let doc = Document::Failed {
                    error: format!("{e:#}"),
                };
                crate::console::document("latency", 1, false, &doc)?;
            } else {
                crate::errln!("latency: no measurement: {e:#}")?;
            }
            return Ok(crate::exit::FAILED);
        }
    };
    let ok = m.passed();
    if o.json {
        crate::console::document("latency", 1, ok, &Document::Measured(&m))?;
    } else {
        crate::out!("{}", text_report(&m))?;
    }
    if let (Some(mut file), Some(path)) = (histogram_file, &o.histogram) {
        file.write_all(histogram_text(&m).as_bytes())
            .with_context(|| format!("writing the histogram to {}", path.display()))?;
    }
    Ok(if ok {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    })
}

/// Run the measurement and gather its figures; prints nothing but the
/// progress line.
pub fn measure(o: &Options) -> anyhow::Result<Measurement> {
    let plan = plan(o)?;
    let mut limitations = Vec::new();
    let held = Held::take(&mut limitations);

    let live: Arc<[Live]> = plan.cpus.iter().map(|_| Live::default()).collect();
    let mut handles = Vec::with_capacity(plan.cpus.len());
    for (i, &cpu) in plan.cpus.iter().enumerate() {
        // Allocated here rather than in the thread, so that the thread touches
        // no allocator once it runs at SCHED_FIFO.
        let hist = Histogram::new_with_bounds(1, HIST_TOP_NS, HIST_SIGFIG)?;
        let live = Arc::clone(&live);
        let (priority, interval_ns, duration_ns) = (o.priority, plan.interval_ns, plan.duration_ns);
        let handle = std::thread::Builder::new()
            .name(format!("latency-cpu{cpu}"))
            .spawn(move || measure_thread(cpu, priority, interval_ns, duration_ns, hist, &live[i]))
            .with_context(|| format!("starting the measuring thread for CPU {cpu}"))?;
        handles.push(handle);
    }
    if o.progress {
        show_progress(o.duration, &live)?;
    }
    let runs = handles
        .into_iter()
        .map(|h| {
            h.join()
                .map_err(|_| anyhow!("a measuring thread panicked"))?
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let locked = held.locked;
    drop(held);

    if let Some(e) = runs.iter().find_map(|r| r.fifo_error.as_ref()) {
        let hint = if e.kind() == io::ErrorKind::PermissionDenied {
            format!(
                " (need CAP_SYS_NICE or an rtprio limit of at least {})",
                o.priority
            )
        } else {
            String::new()
        };
        limitations.insert(0, format!("no SCHED_FIFO: {}{hint}", describe(e)));
    }
    assemble(o, &plan.cpus, runs, limitations, locked)
}

/// The options, checked and converted.
struct Plan {
    cpus: Vec<usize>,
    interval_ns: u64,
    duration_ns: u64,
}

fn plan(o: &Options) -> anyhow::Result<Plan> {
    let bad = |msg: String| -> anyhow::Result<Plan> { Err(UserError(msg).into()) };
    if o.interval_us == 0 {
        return bad("the interval must be at least 1 us".into());
    }
    let Some(interval_ns) = o.interval_us.checked_mul(NS_PER_US) else {
        return bad(format!("an interval of {} us is too long", o.interval_us));
    };
    let Ok(duration_ns) = u64::try_from(o.duration.as_nanos()) else {
        return bad(format!(
            "a duration of {} s is too long",
            o.duration.as_secs_f64()
        ));
    };
    if duration_ns < interval_ns {
        return bad(format!(
            "the duration ({} s) is shorter than one interval ({} us): nothing would be measured",
            o.duration.as_secs_f64(),
            o.interval_us
        ));
    }
    if !(1..=99).contains(&o.priority) {
        return bad(format!(
            "SCHED_FIFO priorities run from 1 to 99, not {}",
            o.priority
        ));
    }
    if o.buffer_frames == Some(0) {
        return bad("a buffer of 0 frames has no period to judge against".into());
    }
    if o.rate_hz == Some(0) {
        return bad("a sample rate of 0 Hz has no period to judge against".into());
    }
    let available = available_cpus()?;
    let cpus = match &o.cpus {
        None => available,
        Some(list) if list.is_empty() => return bad("no CPU to measure: the list is empty".into()),
        Some(list) => {
            for (i, cpu) in list.iter().enumerate() {
                if !available.contains(cpu) {
                    return bad(format!(
                        "CPU {cpu} is not available: it is offline, absent, or outside this \
                         process's CPU set (available: {})",
                        join(&available)
                    ));
                }
                if list[..i].contains(cpu) {
                    return bad(format!("CPU {cpu} is listed twice"));
                }
            }
            list.clone()
        }
    };
    Ok(Plan {
        cpus,
        interval_ns,
        duration_ns,
    })
}

/// The CPUs this process may run on: online, and in its cpuset/affinity mask.
fn available_cpus() -> anyhow::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array; all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; the pointer and size describe `set`, which
    // outlives the call.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error()).context("reading this process's CPU affinity");
    }
    let setsize = usize::try_from(libc::CPU_SETSIZE).unwrap_or(0);
    // SAFETY: every index is below CPU_SETSIZE, so inside `set`.
    Ok((0..setsize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// What one thread shows the progress line while it measures.
#[derive(Default)]
struct Live {
    samples: AtomicU64,
    max_ns: AtomicU64,
}

/// What one thread brings back.
struct ThreadRun {
    hist: Histogram<u64>,
    samples: u64,
    min_ns: u64,
    max_ns: u64,
    sum_ns: u64,
    overflows: u64,
    fifo_error: Option<io::Error>,
}

/// cyclictest's `timerthread()` loop, for one CPU.
fn measure_thread(
    cpu: usize,
    priority: i32,
    interval_ns: u64,
    duration_ns: u64,
    hist: Histogram<u64>,
    live: &Live,
) -> anyhow::Result<ThreadRun> {
    // Pinned first, then realtime, as cyclictest does: the thread never runs
    // at SCHED_FIFO on a CPU it was not asked to measure.
    pin_to(cpu).with_context(|| format!("pinning the measuring thread to CPU {cpu}"))?;
    // Without SCHED_FIFO keep measuring at SCHED_OTHER: the report says the
    // figures are not realtime, and they still show the machine's noise.
    let fifo_error = set_fifo(priority).err();

    let mut run = ThreadRun {
        hist,
        samples: 0,
        min_ns: u64::MAX,
        max_ns: 0,
        sum_ns: 0,
        overflows: 0,
        fifo_error,
    };
    let mut now = monotonic_ns();
    let stop = now + duration_ns;
    let mut next = now + interval_ns;
    // No allocation, lock or system call in here but the sleep and the clock.
    while next <= stop {
        sleep_until(next).context("clock_nanosleep failed")?;
        now = monotonic_ns();
        // Never negative: an absolute sleep does not return before its target.
        let latency = now.saturating_sub(next);
        if latency > HIST_TOP_NS {
            run.overflows += 1;
        }
        run.hist.saturating_record(latency.min(HIST_TOP_NS));
        run.samples += 1;
        run.sum_ns += latency;
        run.min_ns = run.min_ns.min(latency);
        if latency > run.max_ns {
            run.max_ns = latency;
            live.max_ns.store(latency, Ordering::Relaxed);
        }
        live.samples.store(run.samples, Ordering::Relaxed);
        // Like cyclictest, aim at the next period that is still ahead: a wake-up
        // later than a whole interval skips the periods it missed, instead of
        // firing them back to back (which would measure the catch-up, not the
        // machine) or drifting.
        next += interval_ns;
        while now > next {
            next += interval_ns;
        }
    }
    Ok(run)
}

/// Print "elapsed / duration, max so far" on stderr once a second until the
/// duration is over. Reads the threads' relaxed counters: no lock they wait on.
fn show_progress(duration: Duration, live: &[Live]) -> anyhow::Result<()> {
    let start = Instant::now();
    let total = duration.as_secs_f64().ceil();
    for tick in 1.. {
        let at = Duration::from_secs(tick);
        if at >= duration {
            break;
        }
        std::thread::sleep(at.saturating_sub(start.elapsed()));
        let max_ns = live
            .iter()
            .map(|l| l.max_ns.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        let samples: u64 = live.iter().map(|l| l.samples.load(Ordering::Relaxed)).sum();
        crate::err!(
            "\rlatency: {tick}/{total} s, {samples} samples, max {} us   ",
            max_ns / NS_PER_US
        )?;
    }
    // Erase the line (stderr is a terminal) so that the report starts clean.
    crate::err!("\r\x1b[K")
}

/// What the process holds while measuring; dropping it gives it back.
struct Held {
    locked: bool,
    /// The PM QoS request lasts as long as the file is open.
    _dma_latency: Option<File>,
}

impl Held {
    fn take(limitations: &mut Vec<String>) -> Held {
        // cyclictest -m: lock what is mapped and whatever gets mapped later
        // (the threads' stacks), so that no page fault lands in a wake-up.
        // SAFETY: mlockall takes only flags and changes no Rust-visible memory.
        let locked = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } == 0;
        if !locked {
            let e = io::Error::last_os_error();
            let hint = match e.raw_os_error() {
                Some(libc::ENOMEM | libc::EPERM) => {
                    " (need CAP_IPC_LOCK or a memlock limit above this process's size)"
                }
                _ => "",
            };
            limitations.push(format!("no mlockall: {}{hint}", describe(&e)));
        }
        let dma_latency = match hold_dma_latency() {
            Ok(f) => Some(f),
            Err(e) => {
                let hint = match e.kind() {
                    io::ErrorKind::PermissionDenied => " (only root may open it)",
                    io::ErrorKind::NotFound => " (this kernel has no PM QoS device)",
                    _ => "",
                };
                limitations.push(format!(
                    "could not hold /dev/cpu_dma_latency: {}{hint}",
                    describe(&e)
                ));
                None
            }
        };
        Held {
            locked,
            _dma_latency: dma_latency,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.locked {
            // SAFETY: no arguments; it undoes this process's own mlockall.
            unsafe { libc::munlockall() };
        }
    }
}

/// Ask for a 0 us wake-up latency from idle states, as cyclictest does by
/// default; the kernel keeps the request while the file is open.
fn hold_dma_latency() -> io::Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .open("/dev/cpu_dma_latency")?;
    f.write_all(&0i32.to_ne_bytes())?;
    Ok(f)
}

fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array; all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `plan` only lets through CPUs that sched_getaffinity reported,
    // all below CPU_SETSIZE, so the bit is inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; the pointer and size describe `set`.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_fifo(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: pid 0 is the calling thread; `param` outlives the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// CLOCK_MONOTONIC in ns. Not `Instant`: the sleep needs the clock's raw
/// value, which `Instant` does not give out.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec. CLOCK_MONOTONIC always
    // exists on Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * NS_PER_SEC + ts.tv_nsec as u64
}

/// Sleep until `target_ns` on CLOCK_MONOTONIC: an absolute deadline, so time
/// spent between two sleeps does not shift the next wake-up.
fn sleep_until(target_ns: u64) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: (target_ns / NS_PER_SEC) as libc::time_t,
        tv_nsec: (target_ns % NS_PER_SEC) as libc::c_long,
    };
    loop {
        // SAFETY: `ts` is a valid timespec; the remainder may be null, and is
        // unused with TIMER_ABSTIME.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        match rc {
            0 => return Ok(()),
            // A signal: the deadline is absolute, so sleep to it again.
            libc::EINTR => {}
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// Gather the threads' runs into the report's figures.
fn assemble(
    o: &Options,
    cpus: &[usize],
    runs: Vec<ThreadRun>,
    limitations: Vec<String>,
    locked: bool,
) -> anyhow::Result<Measurement> {
    let mut all = Histogram::<u64>::new_with_bounds(1, HIST_TOP_NS, HIST_SIGFIG)?;
    let mut threads = Vec::with_capacity(runs.len());
    let mut histograms = Vec::with_capacity(runs.len());
    let mut max_ns = 0;
    for (&cpu, run) in cpus.iter().zip(runs) {
        all.add(&run.hist)?;
        max_ns = max_ns.max(run.max_ns);
        threads.push(thread_result(cpu, &run));
        histograms.push(run.hist);
    }
    let max_us = us(max_ns);
    let period = o
        .buffer_frames
        .map(|frames| Period::new(frames, o.rate_hz.unwrap_or(DEFAULT_RATE_HZ), max_us));
    Ok(Measurement {
        realtime: locked && threads.iter().all(|t| t.fifo),
        limitations,
        interval_us: o.interval_us,
        duration_s: o.duration.as_secs_f64(),
        priority: o.priority,
        max_us,
        p99_us: us(percentile(&all, 0.99, max_ns)),
        period,
        threads,
        histograms,
    })
}

fn thread_result(cpu: usize, run: &ThreadRun) -> ThreadResult {
    let (min_ns, avg_us) = if run.samples == 0 {
        (0, 0.0)
    } else {
        (run.min_ns, us(run.sum_ns) / run.samples as f64)
    };
    ThreadResult {
        cpu,
        samples: run.samples,
        min_us: us(min_ns),
        avg_us,
        p99_us: us(percentile(&run.hist, 0.99, run.max_ns)),
        p99_9_us: us(percentile(&run.hist, 0.999, run.max_ns)),
        max_us: us(run.max_ns),
        overflows: run.overflows,
        fifo: run.fifo_error.is_none(),
    }
}

impl Measurement {
    /// What the exit code says: measured as a realtime audio thread runs,
    /// and, when judged against a period, never later than it.
    pub fn passed(&self) -> bool {
        self.realtime && self.period.as_ref().is_none_or(|p| p.max_percent < 100.0)
    }
}

/// A histogram percentile is the top of its 0.1%-wide bucket, which may lie
/// above the exact maximum: never report more than that maximum.
fn percentile(h: &Histogram<u64>, quantile: f64, max_ns: u64) -> u64 {
    h.value_at_quantile(quantile).min(max_ns)
}

fn us(ns: u64) -> f64 {
    ns as f64 / NS_PER_US as f64
}

fn period_us(frames: u32, rate_hz: u32) -> f64 {
    f64::from(frames) * 1e6 / f64::from(rate_hz)
}

/// "max 61 us = 2.3% of a 128-frame period at 48000 Hz (2667 us)".
fn verdict(max_us: f64, p: &Period) -> String {
    let mut s = format!(
        "max {:.0} us = {:.1}% of a {}-frame period at {} Hz ({:.0} us)",
        max_us, p.max_percent, p.frames, p.rate_hz, p.period_us
    );
    if p.max_percent >= 100.0 {
        s.push_str(": longer than the period, expect xruns at this buffer size");
    }
    s
}

fn text_report(m: &Measurement) -> String {
    let mut s = format!(
        "{:>4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}  (us)\n",
        "CPU", "samples", "min", "avg", "p99", "p99.9", "max", "overflows"
    );
    for t in &m.threads {
        s += &format!(
            "{:>4} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9}{}\n",
            t.cpu,
            t.samples,
            t.min_us,
            t.avg_us,
            t.p99_us,
            t.p99_9_us,
            t.max_us,
            t.overflows,
            if t.fifo { "" } else { "  (not SCHED_FIFO)" }
        );
    }
    s += &format!(
        "all CPUs: max {:.0} us, p99 {:.0} us ({} us interval for {} s)\n",
        m.max_us, m.p99_us, m.interval_us, m.duration_s
    );
    if m.realtime {
        s += &format!(
            "realtime: SCHED_FIFO priority {}, memory locked\n",
            m.priority
        );
    } else {
        s += "NOT REALTIME: measured without SCHED_FIFO or locked memory, so these figures \
              say little about realtime audio\n";
    }
    for l in &m.limitations {
        s += &format!("limitation: {l}\n");
    }
    match &m.period {
        Some(p) => s += &format!("{}\n", verdict(m.max_us, p)),
        None => s += "give --buffer FRAMES (and --rate HZ) to judge this against an audio period\n",
    }
    s
}

/// The histogram in cyclictest's `-h` format: one line per microsecond, from 0
/// up to the highest one seen, "us count count ..." with a count column per
/// thread, then the same summary lines.
fn histogram_text(m: &Measurement) -> String {
    let columns: Vec<Vec<u64>> = m
        .histograms
        .iter()
        .zip(&m.threads)
        .map(|(h, t)| per_microsecond(h, t.overflows))
        .collect();
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    let mut s = format!(
        "# Histogram\n# CPUs: {}\n",
        join(&m.threads.iter().map(|t| t.cpu).collect::<Vec<_>>())
    );
    for row in 0..rows {
        s += &format!("{row:06}");
        for (i, c) in columns.iter().enumerate() {
            let sep = if i == 0 { ' ' } else { '\t' };
            s += &format!("{sep}{:06}", c.get(row).copied().unwrap_or(0));
        }
        s.push('\n');
    }
    let line = |label: &str, f: &dyn Fn(&ThreadResult) -> String| {
        let values: Vec<String> = m.threads.iter().map(f).collect();
        format!("# {label}: {}\n", values.join(" "))
    };
    s += &line("Total", &|t| format!("{:09}", t.samples));
    s += &line("Min Latencies", &|t| format!("{:05}", t.min_us as u64));
    s += &line("Avg Latencies", &|t| format!("{:05}", t.avg_us as u64));
    s += &line("Max Latencies", &|t| format!("{:05}", t.max_us as u64));
    s += &line("Histogram Overflows", &|t| format!("{:05}", t.overflows));
    s
}

/// Counts per whole microsecond (truncated, as cyclictest does), without the
/// overflows, which were recorded at the top.
fn per_microsecond(h: &Histogram<u64>, overflows: u64) -> Vec<u64> {
    let mut counts: Vec<u64> = Vec::new();
    for v in h.iter_recorded() {
        let value = v.value_iterated_to();
        let mut count = v.count_at_value();
        if h.equivalent(value, HIST_TOP_NS) {
            count -= overflows;
        }
        if count == 0 {
            continue;
        }
        let row = usize::try_from(h.median_equivalent(value) / NS_PER_US).unwrap_or(usize::MAX);
        if counts.len() <= row {
            counts.resize(row + 1, 0);
        }
        counts[row] += count;
    }
    counts
}

fn join(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An OS error's text without Rust's " (os error N)" suffix: the report is for
/// people, and "Operation not permitted" says it.
fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(frames: u32, rate_hz: u32, max_us: f64) -> Period {
        Period::new(frames, rate_hz, max_us)
    }

    #[test]
    fn period_lengths() {
        assert!((period_us(128, 48_000) - 2666.666).abs() < 0.001);
        assert!((period_us(64, 48_000) - 1333.333).abs() < 0.001);
        assert!((period_us(256, 44_100) - 5804.988).abs() < 0.001);
    }

    #[test]
    fn verdict_formats_the_share_of_the_period() {
        assert_eq!(
            verdict(61.0, &period(128, 48_000, 61.0)),
            "max 61 us = 2.3% of a 128-frame period at 48000 Hz (2667 us)"
        );
        assert_eq!(
            verdict(1333.4, &period(64, 48_000, 1333.4)),
            "max 1333 us = 100.0% of a 64-frame period at 48000 Hz (1333 us): longer than \
             the period, expect xruns at this buffer size"
        );
        assert_eq!(
            verdict(130.0, &period(256, 96_000, 130.0)),
            "max 130 us = 4.9% of a 256-frame period at 96000 Hz (2667 us)"
        );
    }

    #[test]
    fn os_errors_read_plainly() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(describe(&e), "Operation not permitted");
    }

    #[test]
    fn histogram_file_is_cyclictest_shaped() {
        let mut h = Histogram::<u64>::new_with_bounds(1, HIST_TOP_NS, HIST_SIGFIG).unwrap();
        for ns in [1_200, 1_900, 3_000, 3_999, HIST_TOP_NS] {
            h.record(ns).unwrap();
        }
        let run = ThreadRun {
            hist: h,
            samples: 5,
            min_ns: 1_200,
            max_ns: 2 * HIST_TOP_NS,
            sum_ns: 1_200 + 1_900 + 3_000 + 3_999 + 2 * HIST_TOP_NS,
            overflows: 1,
            fifo_error: None,
        };
        let o = Options {
            buffer_frames: Some(128),
            ..Options::default()
        };
        let m = assemble(&o, &[3], vec![run], Vec::new(), true).unwrap();
        assert!(m.realtime);
        assert_eq!(m.max_us, 200_000.0);
        assert_eq!(m.period.as_ref().unwrap().rate_hz, DEFAULT_RATE_HZ);
        let text = histogram_text(&m);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "# Histogram",
                "# CPUs: 3",
                "000000 000000",
                "000001 000002",
                "000002 000000",
                "000003 000002",
                "# Total: 000000005",
                "# Min Latencies: 00001",
                "# Avg Latencies: 40002",
                "# Max Latencies: 200000",
                "# Histogram Overflows: 00001",
            ]
        );
    }
}
