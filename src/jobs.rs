//! How much runs at once: validators, and the tool processes inside them.
//! Unlimited by default; `--jobs N` caps each level at N (`--jobs 1` runs
//! everything one after the other, which is what the benchmark compares with).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// 0: no limit.
static JOBS: AtomicUsize = AtomicUsize::new(0);

pub fn set_limit(jobs: usize) {
    JOBS.store(jobs, Ordering::Relaxed);
}

/// `f` over `items` on up to the job limit of threads; results in input order.
pub fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let n = items.len();
    let threads = match JOBS.load(Ordering::Relaxed) {
        0 => n,
        j => j.min(n),
    }
    .max(1);
    let queue = Mutex::new(items.into_iter().enumerate());
    let done = Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let next = queue.lock().expect("job queue").next();
                    let Some((i, item)) = next else { break };
                    let r = f(item);
                    done.lock().expect("job results").push((i, r));
                }
            });
        }
    });
    let mut done = done.into_inner().expect("job results");
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_and_runs_everything() {
        let out = super::map((0..50).collect(), |i: u32| i * 2);
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::map(Vec::<u32>::new(), |i| i).is_empty());
    }
}
