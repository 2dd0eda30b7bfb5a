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

/// `f` over many small `items` on every core, in contiguous chunks (no
/// per-item locking); results in input order. For a few items it runs inline.
pub fn par<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < 64 || threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_and_runs_everything() {
        let out = super::map((0..50).collect(), |i: u32| i * 2);
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::map(Vec::<u32>::new(), |i| i).is_empty());
    }

    #[test]
    fn par_keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(super::par(&items, |i| i + 1), (1..1001).collect::<Vec<_>>());
        assert!(super::par(&[] as &[u32], |i| *i).is_empty());
    }
}
